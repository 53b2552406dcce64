import { useState } from "react";
import { Link } from "react-router-dom";
import { useCandidateNote, useCandidateStatus, useCandidates, type CandidateParams } from "../data/queries";
import type { ESECandidate } from "../data/types";
import { Empty, ErrorBox, QueryView } from "../components/Async";
import { Badge } from "../components/Badge";
import { DataTable, Pager, type Column } from "../components/DataTable";
import { fmtDec, fmtFixed, fmtIsoUtc, fmtJyAsMjy, fmtMjd, fmtRa, isoToUnix, unixToMjd } from "../lib/format";
import { splitList, useUrlState } from "../lib/params";
import { CANDIDATE_STATUSES, canMoveCandidate, candidateStatusLabel, sigmaTone, type CandidateStatus } from "../lib/status";
import { getUserName, setUserName } from "../lib/token";
import { sourceHref } from "./Sources";

const LIMIT = 50;

function StatusControl({ c }: { c: ESECandidate }) {
  const m = useCandidateStatus();
  return (
    <div>
      <div className="seg" role="group" aria-label={`Status of candidate ${c.id}`} data-testid={`status-${c.id}`}>
        {CANDIDATE_STATUSES.map((s) => (
          <button
            key={s}
            type="button"
            aria-pressed={c.status === s}
            disabled={m.isPending || (c.status !== s && !canMoveCandidate(c.status, s))}
            title={c.status !== s && !canMoveCandidate(c.status, s) ? `not allowed from ${candidateStatusLabel(c.status)}` : undefined}
            onClick={() => c.status !== s && m.mutate({ id: c.id, status: s })}
          >
            {candidateStatusLabel(s)}
          </button>
        ))}
      </div>
      {m.isError && <ErrorBox error={m.error} />}
    </div>
  );
}

function NotesCell({ c }: { c: ESECandidate }) {
  const m = useCandidateNote();
  const [draft, setDraft] = useState("");
  const [open, setOpen] = useState(false);
  return (
    <div style={{ minWidth: 200, maxWidth: 420 }}>
      {c.notes && (
        <div className="small" style={{ whiteSpace: "pre-wrap", maxHeight: "6.5em", overflowY: "auto" }} data-testid={`notes-${c.id}`}>
          {c.notes}
        </div>
      )}
      {open ? (
        <form
          className="row"
          style={{ marginTop: 3 }}
          onSubmit={(e) => {
            e.preventDefault();
            m.mutate(
              { id: c.id, note: draft.trim() },
              {
                onSuccess: () => {
                  setDraft("");
                  setOpen(false);
                },
              },
            );
          }}
        >
          <input
            autoFocus
            aria-label={`Note for candidate ${c.id}`}
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
        <button type="button" className="btn small" onClick={() => setOpen(true)} data-testid={`add-note-${c.id}`}>
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

const columns: Column<ESECandidate>[] = [
  {
    key: "src",
    header: "Source",
    sort: "source_id",
    render: (c) => (
      <>
        <Link to={sourceHref(c.source_id)}>{c.source_id}</Link>
        <div className="small muted mono">
          {fmtRa(c.ra_deg)} {fmtDec(c.dec_deg)}
        </div>
      </>
    ),
  },
  { key: "sig", header: "Max dev.", unit: "σ", num: true, sort: "sigma_deviation", render: (c) => <Badge tone={sigmaTone(c.max_sigma_dev)}>{fmtFixed(c.max_sigma_dev, 1)}</Badge> },
  { key: "base", header: "Baseline", unit: "mJy", num: true, render: (c) => fmtJyAsMjy(c.baseline_flux_jy).replace(" mJy", "") },
  { key: "peak", header: "Peak dev.", unit: "mJy", num: true, render: (c) => fmtJyAsMjy(c.peak_flux_jy).replace(" mJy", "") },
  {
    key: "ratio",
    header: "Peak/base",
    num: true,
    minor: true,
    render: (c) => (c.peak_flux_jy != null && c.baseline_flux_jy ? fmtFixed(c.peak_flux_jy / c.baseline_flux_jy, 2) : "–"),
  },
  { key: "first", header: "First detection", unit: "UTC · MJD", minor: true, render: (c) => <Detection iso={c.first_detection_at} /> },
  { key: "last", header: "Last detection", unit: "UTC · MJD", render: (c) => <Detection iso={c.last_detection_at} /> },
  { key: "status", header: "Status", render: (c) => <StatusControl c={c} /> },
  { key: "notes", header: "Notes", render: (c) => <NotesCell c={c} /> },
];

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
  const q = useCandidates(params);
  const toggle = (s: CandidateStatus) => {
    const next = statuses.includes(s) ? statuses.filter((x) => x !== s) : [...statuses, s];
    set({ status: next.length ? next.join(",") : "any" });
  };
  return (
    <section className="page">
      <div className="page-head">
        <h1>ESE candidates</h1>
        <span className="sub">Triage, most significant first. Status and notes change in place.</span>
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
              <option value="-significance">significance ↓</option>
              <option value="-flagged_at">newest flag</option>
              <option value="-sigma_deviation">max deviation ↓</option>
              <option value="source_id">source</option>
            </select>
          </label>
        </div>
        <QueryView q={q} lines={8}>
          {(page) =>
            page.data.length ? (
              <>
                <DataTable testId="candidates-table" columns={columns} rows={page.data} rowKey={(c) => c.id} />
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
