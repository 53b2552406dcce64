import { useEffect, useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { useCandidateRows, useSourceCandidatesNote, useSourceCandidatesStatus, type CandidateParams } from "../data/queries";
import type { SourceCandidates } from "../data/types";
import { Empty, ErrorBox, QueryView } from "../components/Async";
import { Badge } from "../components/Badge";
import { DataTable, Pager, type Column, type SortState } from "../components/DataTable";
import { fmtDec, fmtFixed, fmtIsoUtc, fmtJyAsMjy, fmtMjd, fmtRa, isoToUnix, unixToMjd } from "../lib/format";
import { splitList, useUrlState } from "../lib/params";
import {
  CANDIDATE_STATUSES,
  canMoveCandidate,
  candidateStatusLabel,
  candidateStatusTone,
  sigmaTone,
  type CandidateStatus,
} from "../lib/status";
import { getUserName, setUserName } from "../lib/token";
import { sourceHref } from "./Sources";

const LIMIT = 50;

const FLAG_LABELS: Record<string, string> = { variability: "variability", rapid_change: "rapid change", user: "user" };

/** A row's status control: a move applies to every flag (candidate) of the source. */
function StatusControl({ r, onChanged }: { r: SourceCandidates; onChanged: (r: SourceCandidates) => void }) {
  const m = useSourceCandidatesStatus();
  const ids = r.flags.map((f) => f.id);
  const allCan = (s: CandidateStatus) => r.flags.every((f) => f.status === s || canMoveCandidate(f.status, s));
  return (
    <div>
      <div className="seg" role="group" aria-label={`Status of ${r.source_id}`} data-testid={`status-${r.source_id}`}>
        {CANDIDATE_STATUSES.map((s) => (
          <button
            key={s}
            type="button"
            aria-pressed={r.status === s}
            disabled={m.isPending || r.status === s || !allCan(s)}
            title={
              r.status !== s && !allCan(s)
                ? `not allowed from ${r.status ? candidateStatusLabel(r.status) : "these statuses"}`
                : `set every flag of this source (${ids.length}) to ${candidateStatusLabel(s)}`
            }
            onClick={() =>
              m.mutate(
                { ids: r.flags.filter((f) => f.status !== s).map((f) => f.id), status: s },
                {
                  onSuccess: (cs) => {
                    const byId = new Map(cs.map((c) => [c.id, c]));
                    const flags = r.flags.map((f) => {
                      const c = byId.get(f.id);
                      return c ? { ...f, status: c.status, notes: c.notes } : f;
                    });
                    onChanged({ ...r, flags, status: flags.every((f) => f.status === s) ? s : null });
                  },
                },
              )
            }
          >
            {candidateStatusLabel(s)}
          </button>
        ))}
      </div>
      {r.status == null && <div className="small muted">mixed: see each flag</div>}
      {m.isError && <ErrorBox error={m.error} />}
    </div>
  );
}

function FlagsCell({ r }: { r: SourceCandidates }) {
  return (
    <ul className="flags" style={{ listStyle: "none", margin: 0, padding: 0 }} data-testid={`flags-${r.source_id}`}>
      {r.flags.map((f) => (
        <li key={f.id} className="row small" style={{ gap: 4 }} data-testid={`flag-${f.id}`}>
          <span>{FLAG_LABELS[f.flag_type] ?? f.flag_type}</span>
          <Badge tone={sigmaTone(f.significance)}>{fmtFixed(f.significance, 1)}σ</Badge>
          {r.status == null && <Badge tone={candidateStatusTone(f.status)}>{candidateStatusLabel(f.status)}</Badge>}
          <span className="muted">#{f.id}</span>
        </li>
      ))}
    </ul>
  );
}

/** Notes of every flag of the row (dated lines, each shown once), and a note added to all. */
function NotesCell({ r, onChanged }: { r: SourceCandidates; onChanged: (r: SourceCandidates) => void }) {
  const m = useSourceCandidatesNote();
  const [draft, setDraft] = useState("");
  const [open, setOpen] = useState(false);
  const lines = Array.from(new Set(r.flags.flatMap((f) => (f.notes ? f.notes.split("\n") : [])))).sort();
  return (
    <div style={{ minWidth: 200, maxWidth: 420 }}>
      {lines.length > 0 && (
        <div className="small" style={{ whiteSpace: "pre-wrap", maxHeight: "6.5em", overflowY: "auto" }} data-testid={`notes-${r.source_id}`}>
          {lines.join("\n")}
        </div>
      )}
      {open ? (
        <form
          className="row"
          style={{ marginTop: 3 }}
          onSubmit={(e) => {
            e.preventDefault();
            m.mutate(
              { ids: r.flags.map((f) => f.id), note: draft.trim() },
              {
                onSuccess: (cs) => {
                  const byId = new Map(cs.map((c) => [c.id, c]));
                  onChanged({ ...r, flags: r.flags.map((f) => ({ ...f, notes: byId.get(f.id)?.notes ?? f.notes })) });
                  setDraft("");
                  setOpen(false);
                },
              },
            );
          }}
        >
          <input
            autoFocus
            aria-label={`Note for ${r.source_id}`}
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            placeholder="add a note"
            style={{ flex: 1, minWidth: 140 }}
          />
          <button type="submit" className="btn small primary" disabled={!draft.trim() || m.isPending}>
            add
          </button>
          <button type="button" className="btn small" onClick={() => setOpen(false)}>
            ×
          </button>
        </form>
      ) : (
        <button type="button" className="btn small" onClick={() => setOpen(true)} data-testid={`add-note-${r.source_id}`}>
          + note
        </button>
      )}
      {m.isError && <ErrorBox error={m.error} />}
    </div>
  );
}

function Detection({ iso }: { iso: string | null | undefined }) {
  const u = isoToUnix(iso);
  if (u == null) return <span className="muted">–</span>;
  return (
    <span className="time">
      <span className="utc">{fmtIsoUtc(iso).slice(0, 16)}</span>
      <span className="mjd">{fmtMjd(unixToMjd(u), 3)}</span>
    </span>
  );
}

function columnsFor(onChanged: (r: SourceCandidates) => void): Column<SourceCandidates>[] {
  return [
    {
      key: "src",
      header: "Source",
      sort: "source_id",
      render: (r) => (
        <>
          <Link to={sourceHref(r.source_id)}>{r.source_id}</Link>
          <div className="small muted mono">
            {fmtRa(r.ra_deg)} {fmtDec(r.dec_deg)}
          </div>
        </>
      ),
    },
    {
      key: "sig",
      header: "Significance",
      unit: "σ, largest flag",
      num: true,
      sort: "significance",
      title: "The largest significance of the source's flags (variability: σ deviation; rapid change: |Vs|)",
      render: (r) => <Badge tone={sigmaTone(r.significance)}>{fmtFixed(r.significance, 1)}</Badge>,
    },
    { key: "flags", header: "Flags", unit: "type · significance", render: (r) => <FlagsCell r={r} /> },
    { key: "dev", header: "Max dev.", unit: "σ", num: true, minor: true, sort: "sigma_deviation", render: (r) => fmtFixed(r.max_sigma_dev, 1) },
    { key: "base", header: "Baseline", unit: "mJy", num: true, render: (r) => fmtJyAsMjy(r.baseline_flux_jy).replace(" mJy", "") },
    { key: "peak", header: "Peak dev.", unit: "mJy", num: true, render: (r) => fmtJyAsMjy(r.peak_flux_jy).replace(" mJy", "") },
    { key: "first", header: "First detection", unit: "UTC · MJD", minor: true, render: (r) => <Detection iso={r.first_detection_at} /> },
    { key: "last", header: "Last detection", unit: "UTC · MJD", render: (r) => <Detection iso={r.last_detection_at} /> },
    { key: "status", header: "Status", unit: "all flags", render: (r) => <StatusControl r={r} onChanged={onChanged} /> },
    { key: "notes", header: "Notes", render: (r) => <NotesCell r={r} onChanged={onChanged} /> },
  ];
}

/** The fetched rows, with the rows changed in this view kept in place (with their new
 * status) even when the filter no longer matches them, until the view changes. A row
 * still fetched is shown as fetched (the stored state). */
export function withKept(rows: SourceCandidates[], kept: Map<string, { row: SourceCandidates; index: number }>) {
  const out = [...rows];
  const present = new Set(rows.map((r) => r.source_id));
  const missing = [...kept.values()].filter((k) => !present.has(k.row.source_id)).sort((a, b) => a.index - b.index);
  for (const k of missing) out.splice(Math.min(k.index, out.length), 0, k.row);
  return out;
}

export function CandidatesPage() {
  const { get, num, set } = useUrlState();
  const statusParam = get("status");
  // No parameter: the triage default (active). "any": every status.
  const statuses = (statusParam === null ? ["active"] : statusParam === "any" ? [] : splitList(statusParam)) as CandidateStatus[];
  const flagType = get("type") ?? "";
  const sourceId = get("src") ?? "";
  const sort = get("sort") ?? "-significance";
  const offset = num("offset") ?? 0;
  const params: CandidateParams = {
    status: statuses.length ? statuses : undefined,
    flag_type: flagType || undefined,
    source_id: sourceId || undefined,
    sort,
    limit: LIMIT,
    offset,
  };
  const q = useCandidateRows(params);
  const viewKey = JSON.stringify(params);
  const [kept, setKept] = useState(new Map<string, { row: SourceCandidates; index: number }>());
  useEffect(() => setKept(new Map()), [viewKey]);
  const shown = useMemo(() => (q.data ? withKept(q.data.data, kept) : []), [q.data, kept]);
  const columns = useMemo(
    () =>
      columnsFor((row) =>
        setKept((prev) => {
          const next = new Map(prev);
          const index = shown.findIndex((r) => r.source_id === row.source_id);
          next.set(row.source_id, { row, index: index < 0 ? shown.length : index });
          return next;
        }),
      ),
    [shown],
  );
  const sortState: SortState = { key: sort.replace(/^-/, ""), desc: sort.startsWith("-") };
  const toggle = (s: CandidateStatus) => {
    const next = statuses.includes(s) ? statuses.filter((x) => x !== s) : [...statuses, s];
    set({ status: next.length ? next.join(",") : "any" });
  };
  return (
    <section className="page">
      <div className="page-head">
        <h1>ESE candidates</h1>
        <span className="sub">
          One row per source, every flag in it; most significant first. A status or note applies to all the source's flags;
          a changed row stays until the view changes.
        </span>
        <div className="actions">
          <a className="btn small" href="/api/v1/candidates/export?format=csv">Export CSV</a>
        </div>
      </div>
      <div className="panel">
        <div className="filters">
          <fieldset className="field" style={{ border: 0, padding: 0, margin: 0 }}>
            <legend className="small">Status</legend>
            <div className="row">
              {CANDIDATE_STATUSES.map((s) => (
                <label key={s} className="row small" style={{ gap: 3 }}>
                  <input type="checkbox" checked={statuses.includes(s)} onChange={() => toggle(s)} />
                  {candidateStatusLabel(s)}
                </label>
              ))}
            </div>
          </fieldset>
          <label>
            Flag type
            <select value={flagType} onChange={(e) => set({ type: e.target.value })}>
              <option value="">any</option>
              <option value="variability">variability</option>
              <option value="rapid_change">rapid change</option>
              <option value="user">user</option>
            </select>
          </label>
          {sourceId && (
            <div className="field">
              <span>Source</span>
              <span className="row">
                <strong>{sourceId}</strong>
                <button type="button" className="btn small" onClick={() => set({ src: null })}>
                  all sources
                </button>
              </span>
            </div>
          )}
          <label>
            Sign notes as
            <input
              defaultValue={getUserName()}
              placeholder="dashboard"
              onChange={(e) => setUserName(e.target.value)}
              style={{ width: "14em" }}
            />
          </label>
          <label>
            Sort
            <select value={sort} onChange={(e) => set({ sort: e.target.value })}>
              <option value="-significance">significance ↓ (largest flag)</option>
              <option value="-flagged_at">newest flag</option>
              <option value="-sigma_deviation">max deviation ↓</option>
              <option value="source_id">source</option>
            </select>
          </label>
        </div>
        <QueryView q={q} lines={8}>
          {(page) =>
            shown.length ? (
              <>
                <DataTable
                  testId="candidates-table"
                  columns={columns}
                  rows={shown}
                  rowKey={(r) => r.source_id}
                  sort={sortState}
                  onSort={(st) => set({ sort: `${st.desc ? "-" : ""}${st.key}` })}
                />
                <Pager count={page.count} limit={LIMIT} offset={offset} onOffset={(o) => set({ offset: o }, false)} />
              </>
            ) : (
              <Empty>No candidates with these statuses.</Empty>
            )
          }
        </QueryView>
      </div>
    </section>
  );
}
