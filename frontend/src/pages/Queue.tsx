import { Link } from "react-router-dom";
import { useGroups } from "../data/queries";
import type { RecentGroup } from "../data/types";
import { Empty, QueryView } from "../components/Async";
import { Badge } from "../components/Badge";
import { DataTable, Pager, type Column } from "../components/DataTable";
import { Time } from "../components/Time";
import { fmtDuration } from "../lib/format";
import { splitList, unixToUtcInput, useUrlState, utcInputToUnix } from "../lib/params";
import { GROUP_STATES, groupStateLabel } from "../lib/status";
import { GroupStateBadge } from "./Overview";

const LIMIT = 50;

const PRESETS: [string, number | null][] = [
  ["1 h", 3600],
  ["6 h", 6 * 3600],
  ["24 h", 86400],
  ["7 d", 7 * 86400],
  ["all", null],
];

function calibratorNames(g: RecentGroup): string {
  return (g.calibrators ?? []).map((c) => String((c as { name?: unknown }).name ?? "?")).join(", ");
}

const columns: Column<RecentGroup>[] = [
  {
    key: "group_id",
    header: "Group",
    sort: "group_id",
    render: (g) => (
      <Link to={`/queue/${encodeURIComponent(g.group_id)}`} className="mono">
        {g.group_id}
      </Link>
    ),
  },
  { key: "state", header: "State", sort: "state", render: (g) => <GroupStateBadge state={g.state} /> },
  {
    key: "sb",
    header: "Subbands",
    num: true,
    sort: "subbands_present",
    render: (g) => (
      <span className={g.subbands_present < g.expected_subbands ? "muted" : undefined}>
        {g.subbands_present}/{g.expected_subbands}
      </span>
    ),
  },
  {
    key: "cal",
    header: "Calibrator",
    minor: true,
    render: (g) => (g.has_calibrator ? <Badge tone="info">{calibratorNames(g) || "yes"}</Badge> : g.has_calibrator === false ? "–" : <span className="muted">?</span>),
  },
  { key: "retry", header: "Retries", num: true, sort: "retry_count", minor: true, render: (g) => g.retry_count || "" },
  { key: "time", header: "Processing", num: true, sort: "total_time_s", render: (g) => fmtDuration(g.total_time_s) },
  { key: "recv", header: "Received", unit: "UTC · MJD", sort: "received_at", render: (g) => <Time unix={g.received_at} seconds /> },
  { key: "upd", header: "Last update", unit: "UTC", sort: "last_update", minor: true, render: (g) => <Time unix={g.last_update} ago /> },
  {
    key: "err",
    header: "Error",
    render: (g) =>
      g.error_message ? (
        <span className="error-text" title={g.error_message}>
          {g.error_message.length > 80 ? `${g.error_message.slice(0, 79)}…` : g.error_message}
        </span>
      ) : null,
  },
];

export function QueuePage() {
  const { get, num, set } = useUrlState();
  const states = splitList(get("state"));
  const since = num("since");
  const until = num("until");
  const prefix = get("q") ?? "";
  const sort = get("sort") ?? "-received_at";
  const offset = num("offset") ?? 0;
  const q = useGroups({
    state: states,
    received_since: since,
    received_until: until,
    group_id_prefix: prefix || undefined,
    sort,
    limit: LIMIT,
    offset,
  });

  const toggleState = (s: string) => {
    const next = states.includes(s) ? states.filter((x) => x !== s) : [...states, s];
    set({ state: next.join(",") });
  };

  return (
    <section className="page">
      <div className="page-head">
        <h1>Queue</h1>
        <span className="sub">Observation groups through the pipeline</span>
        <div className="actions">
          <a className="btn small" href={`/api/v1/groups/export?format=csv${states.map((s) => `&state=${s}`).join("")}`}>
            Export CSV
          </a>
        </div>
      </div>
      <div className="panel">
        <div className="filters" role="search">
          <fieldset className="field" style={{ border: 0, padding: 0, margin: 0 }}>
            <legend className="small">State</legend>
            <div className="row">
              {GROUP_STATES.map((s) => (
                <label key={s} className="row small" style={{ gap: 3 }}>
                  <input type="checkbox" checked={states.includes(s)} onChange={() => toggleState(s)} />
                  {groupStateLabel(s)}
                </label>
              ))}
            </div>
          </fieldset>
          <label>
            Received since (UTC)
            <input
              type="datetime-local"
              value={unixToUtcInput(since)}
              onChange={(e) => set({ since: utcInputToUnix(e.target.value) })}
            />
          </label>
          <label>
            until (UTC)
            <input
              type="datetime-local"
              value={unixToUtcInput(until)}
              onChange={(e) => set({ until: utcInputToUnix(e.target.value) })}
            />
          </label>
          <div className="field">
            <span>Last</span>
            <div className="seg" role="group" aria-label="Time presets">
              {PRESETS.map(([label, s]) => (
                <button
                  key={label}
                  type="button"
                  aria-pressed={s === null ? since === undefined && until === undefined : false}
                  onClick={() => set({ since: s === null ? null : Math.floor(Date.now() / 1000 - s), until: null })}
                >
                  {label}
                </button>
              ))}
            </div>
          </div>
          <label>
            Group id starts with
            <input type="search" value={prefix} placeholder="2026-11-25T" onChange={(e) => set({ q: e.target.value })} />
          </label>
        </div>
        <QueryView q={q} lines={8}>
          {(page) =>
            page.data.length ? (
              <>
                <DataTable
                  testId="groups-table"
                  columns={columns}
                  rows={page.data}
                  rowKey={(g) => g.group_id}
                  rowHref={(g) => `/queue/${encodeURIComponent(g.group_id)}`}
                  rowClass={(g) => (g.state === "failed" ? "row-bad" : undefined)}
                  sort={{ key: sort.replace(/^[-+]/, ""), desc: sort.startsWith("-") }}
                  onSort={(s) => set({ sort: `${s.desc ? "-" : ""}${s.key}` })}
                />
                <Pager count={page.count} limit={LIMIT} offset={offset} onOffset={(o) => set({ offset: o }, false)} />
              </>
            ) : (
              <Empty>No groups match these filters.</Empty>
            )
          }
        </QueryView>
      </div>
    </section>
  );
}
