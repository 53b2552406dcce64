/**
 * Validity windows of calibration sets on a shared MJD time axis (SVG). Each set is
 * one row; its window is a bar, coloured by whether it covers now, lies in the
 * future, has expired, or is inactive; a vertical line marks now.
 *
 * The axis spans the sets' own time range (see timelineRange): simulated or archived
 * sets from long ago are drawn at full width, and "now" is then an arrow at the edge.
 */
import { useMemo, useState } from "react";
import { fmtMjd, fmtMjdUtc } from "../lib/format";
import { validityOf, type Validity } from "../lib/status";

export interface TimelineItem {
  id: string;
  label: string;
  startMjd: number;
  endMjd: number;
  active: boolean;
  detail?: string;
}

const COLORS: Record<Validity | "inactive", string> = {
  current: "#2e7d5b",
  future: "#3a7ca5",
  expired: "#9aa7b3",
  inactive: "#d5dbe0",
};

export function colorFor(item: TimelineItem, nowMjd: number): string {
  if (!item.active) return COLORS.inactive;
  return COLORS[validityOf(item.startMjd, item.endMjd, nowMjd)];
}

/** Nice tick positions (MJD) for a range: whole days, hours or fractions. */
export function mjdTicks(lo: number, hi: number, maxTicks = 8): { ticks: number[]; step: number } {
  const span = hi - lo;
  if (!(span > 0)) return { ticks: [lo], step: 1 };
  const steps = [1 / 24, 2 / 24, 3 / 24, 6 / 24, 12 / 24, 1, 2, 5, 10, 20, 50, 100, 200, 500];
  const step = steps.find((s) => span / s <= maxTicks) ?? steps[steps.length - 1];
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(Number(t.toFixed(6)));
  return { ticks, step };
}

/**
 * The axis range (MJD) of a timeline: the items' own span, padded. "Now" is included
 * only when it lies within half the span (at least a day) of the items, so sets from
 * simulated or archived dates are not squeezed into slivers by the wall clock;
 * `nowInside` says whether the now line is drawn or an edge arrow instead.
 */
export function timelineRange(
  items: Pick<TimelineItem, "startMjd" | "endMjd">[],
  nowMjd: number,
): { lo: number; hi: number; nowInside: boolean } {
  let a = items.length ? Math.min(...items.map((i) => i.startMjd)) : nowMjd - 0.5;
  let b = items.length ? Math.max(...items.map((i) => i.endMjd)) : nowMjd + 0.5;
  const reach = Math.max(0.5 * (b - a), 1);
  if (nowMjd >= a - reach && nowMjd <= b + reach) {
    a = Math.min(a, nowMjd);
    b = Math.max(b, nowMjd);
  }
  const pad = Math.max((b - a) * 0.04, 1 / 48);
  const lo = a - pad;
  const hi = b + pad;
  return { lo, hi, nowInside: nowMjd >= lo && nowMjd <= hi };
}

export function Timeline({
  items,
  nowMjd,
  onSelect,
  selected,
}: {
  items: TimelineItem[];
  nowMjd: number;
  onSelect?: (id: string) => void;
  selected?: string | null;
}) {
  const [hover, setHover] = useState<string | null>(null);
  const { lo, hi, nowInside } = useMemo(() => timelineRange(items, nowMjd), [items, nowMjd]);

  const labelW = 190;
  const width = 1000;
  const rowH = 22;
  const top = 8;
  const axisH = 34;
  const height = top + items.length * rowH + axisH;
  const x = (mjd: number) => labelW + ((mjd - lo) / (hi - lo)) * (width - labelW - 10);
  const { ticks, step } = mjdTicks(lo, hi);
  const dayTicks = step >= 1;

  return (
    <div className="timeline">
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label="Calibration validity timeline" style={{ minWidth: 640 }}>
        {ticks.map((t) => (
          <g key={t} className="axis">
            <line x1={x(t)} x2={x(t)} y1={top - 4} y2={top + items.length * rowH} stroke="#eef1f4" />
            <text x={x(t)} y={top + items.length * rowH + 14} textAnchor="middle">
              {fmtMjd(t, dayTicks ? 0 : 2)}
            </text>
            <text x={x(t)} y={top + items.length * rowH + 27} textAnchor="middle">
              {dayTicks ? fmtMjdUtc(t, false).slice(0, 10) : `${fmtMjdUtc(t, false).slice(5, 16)}`}
            </text>
          </g>
        ))}
        {items.map((it, i) => {
          const y = top + i * rowH;
          const x0 = x(it.startMjd);
          const x1 = Math.max(x(it.endMjd), x0 + 2);
          const isSel = selected === it.id || hover === it.id;
          return (
            <g
              key={it.id}
              data-testid="timeline-row"
              style={{ cursor: onSelect ? "pointer" : undefined }}
              onClick={() => onSelect?.(it.id)}
              onMouseEnter={() => setHover(it.id)}
              onMouseLeave={() => setHover(null)}
            >
              <rect x={0} y={y} width={width} height={rowH} fill={isSel ? "#e3eef6" : i % 2 ? "#fafbfc" : "#fff"} />
              <text x={6} y={y + 15} fontSize={12} fill="#1f2b36" fontFamily="ui-monospace, monospace">
                {it.label.length > 24 ? `${it.label.slice(0, 23)}…` : it.label}
              </text>
              <rect x={x0} y={y + 4} width={x1 - x0} height={rowH - 8} rx={3} fill={colorFor(it, nowMjd)}>
                <title>
                  {`${it.label}\n${fmtMjdUtc(it.startMjd)} → ${fmtMjdUtc(it.endMjd)} UTC\nMJD ${fmtMjd(it.startMjd)} → ${fmtMjd(it.endMjd)}${it.active ? "" : "\n(inactive)"}${it.detail ? `\n${it.detail}` : ""}`}
                </title>
              </rect>
            </g>
          );
        })}
        {nowInside ? (
          <>
            <line x1={x(nowMjd)} x2={x(nowMjd)} y1={top - 6} y2={top + items.length * rowH} stroke="#b03a3a" strokeWidth={1.5} strokeDasharray="4 3" />
            <text x={x(nowMjd) + 4} y={top + 2} fontSize={11} fill="#b03a3a">
              now
            </text>
          </>
        ) : (
          <text
            data-testid="timeline-now-off-axis"
            x={nowMjd > hi ? width - 4 : labelW + 2}
            y={top + 2}
            fontSize={11}
            fill="#b03a3a"
            textAnchor={nowMjd > hi ? "end" : "start"}
          >
            {nowMjd > hi ? `now (${fmtMjdUtc(nowMjd, false).slice(0, 10)}) →` : `← now (${fmtMjdUtc(nowMjd, false).slice(0, 10)})`}
          </text>
        )}
      </svg>
      <div className="legend">
        <span><i style={{ background: COLORS.current }} />covers now</span>
        <span><i style={{ background: COLORS.future }} />future</span>
        <span><i style={{ background: COLORS.expired }} />expired</span>
        <span><i style={{ background: COLORS.inactive }} />inactive</span>
      </div>
    </div>
  );
}
