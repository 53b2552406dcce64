import type { ReactNode } from "react";
import { useNavigate } from "react-router-dom";

export interface Column<T> {
  key: string;
  header: ReactNode;
  /** Unit shown under the header, e.g. "mJy". */
  unit?: string;
  /** Right-aligned, tabular figures. */
  num?: boolean;
  render: (row: T) => ReactNode;
  /** Server- or client-side sort field; sortable when set. */
  sort?: string;
  /** Hide on narrow screens. */
  minor?: boolean;
  title?: string;
}

export interface SortState {
  key: string;
  desc: boolean;
}

/** A dense, legible table: sticky header, units under headers, tabular numbers,
 * optional sorting and row click-through. */
export function DataTable<T>({
  columns,
  rows,
  rowKey,
  sort,
  onSort,
  rowHref,
  rowClass,
  caption,
  testId,
  stack = true,
}: {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string | number;
  sort?: SortState;
  onSort?: (s: SortState) => void;
  rowHref?: (row: T) => string;
  rowClass?: (row: T) => string | undefined;
  caption?: ReactNode;
  testId?: string;
  /** On narrow screens, show each row as a card of label: value lines. */
  stack?: boolean;
}) {
  const navigate = useNavigate();
  return (
    <div className="table-wrap">
      <table className={stack ? "data stack" : "data"} data-testid={testId}>
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => {
              const active = sort && c.sort && sort.key === c.sort;
              const cls = [c.num ? "num" : "", c.minor ? "minor" : "", c.sort ? "sortable" : ""].join(" ");
              return (
                <th
                  key={c.key}
                  className={cls}
                  title={c.title}
                  aria-sort={active ? (sort.desc ? "descending" : "ascending") : undefined}
                  onClick={
                    c.sort && onSort
                      ? () => onSort({ key: c.sort!, desc: active ? !sort.desc : true })
                      : undefined
                  }
                >
                  {c.header}
                  {active && <span className="sort-arrow">{sort.desc ? " ▾" : " ▴"}</span>}
                  {c.unit && <span className="unit">{c.unit}</span>}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr
              key={rowKey(r)}
              className={[rowHref ? "clickable" : "", rowClass?.(r) ?? ""].join(" ")}
              onClick={
                rowHref
                  ? (e) => {
                      const t = e.target as HTMLElement;
                      if (t.closest("a,button,input,select,textarea")) return;
                      navigate(rowHref(r));
                    }
                  : undefined
              }
            >
              {columns.map((c) => (
                <td
                  key={c.key}
                  className={[c.num ? "num" : "", c.minor ? "minor" : ""].join(" ")}
                  data-label={typeof c.header === "string" ? `${c.header}${c.unit ? ` (${c.unit})` : ""}` : ""}
                >
                  {c.render(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Previous / next paging with the whole result's count. */
export function Pager({
  count,
  limit,
  offset,
  onOffset,
}: {
  count: number;
  limit: number;
  offset: number;
  onOffset: (o: number) => void;
}) {
  const last = Math.min(offset + limit, count);
  return (
    <div className="pager">
      <span>
        {count === 0 ? "no rows" : `${offset + 1}–${last} of ${count}`}
      </span>
      <button type="button" className="btn small" disabled={offset <= 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
        ‹ prev
      </button>
      <button type="button" className="btn small" disabled={last >= count} onClick={() => onOffset(offset + limit)}>
        next ›
      </button>
    </div>
  );
}
