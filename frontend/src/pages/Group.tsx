import { useMemo } from "react";
import { Link, useParams } from "react-router-dom";
import { useGroup, useRetryGroup } from "../data/queries";
import type { GroupDetail } from "../data/types";
import { ErrorBox, QueryView } from "../components/Async";
import { Badge } from "../components/Badge";
import { DataTable } from "../components/DataTable";
import { Plot } from "../components/Plot";
import { Time } from "../components/Time";
import { fmtBytes, fmtDuration } from "../lib/format";
import { canRetry } from "../lib/status";
import { GroupStateBadge } from "./Overview";

const STAGE_LABELS: Record<string, string> = {
  conversion: "conversion (UVH5 → MS)",
  concat: "concatenation",
  k_solve: "K solve (delay)",
  bp_solve: "BP solve (bandpass)",
  g_solve: "G solve (gain)",
  imaging: "imaging",
  photometry: "photometry",
};

function StageTimings({ d }: { d: GroupDetail }) {
  const timed = d.stage_timings.filter((s) => s.seconds != null);
  const total = d.performance?.total_time ?? null;
  const fig = useMemo(
    () => ({
      data: [
        {
          type: "bar",
          orientation: "h",
          y: timed.map((s) => STAGE_LABELS[s.stage] ?? s.stage),
          x: timed.map((s) => s.seconds),
          marker: { color: "#3a7ca5" },
          hovertemplate: "%{y}: %{x:.2f} s<extra></extra>",
          showlegend: false,
        },
      ],
      layout: {
        margin: { l: 170, r: 16, t: 4, b: 40 },
        xaxis: { title: { text: "seconds" }, rangemode: "tozero" },
        yaxis: { autorange: "reversed" },
        showlegend: false,
      },
    }),
    [timed],
  );
  return (
    <>
      <table className="kv" data-testid="stage-timings">
        <tbody>
          {d.stage_timings.map((s) => (
            <tr key={s.stage}>
              <th>{STAGE_LABELS[s.stage] ?? s.stage}</th>
              <td className="num">{fmtDuration(s.seconds)}</td>
            </tr>
          ))}
          <tr>
            <th>
              <strong>total</strong>
            </th>
            <td>
              <strong>{fmtDuration(total)}</strong>
              {d.performance?.writer_type && <span className="muted"> · writer {d.performance.writer_type}</span>}
            </td>
          </tr>
        </tbody>
      </table>
      {timed.length > 0 && <Plot data={fig.data} layout={fig.layout} height={60 + timed.length * 26} />}
    </>
  );
}

function RetryButton({ d }: { d: GroupDetail }) {
  const retry = useRetryGroup();
  const g = d.group;
  if (retry.isSuccess) return <span className="note-ok">queued again: now {retry.data.state}, retry {retry.data.retry_count}</span>;
  if (!canRetry(g.state)) return null;
  return (
    <div className="row">
      <button
        type="button"
        className="btn primary"
        disabled={retry.isPending}
        onClick={() => retry.mutate(g.group_id)}
        data-testid="retry-button"
      >
        {retry.isPending ? "Retrying…" : "Retry group"}
      </button>
      {retry.isError && <ErrorBox error={retry.error} />}
    </div>
  );
}

export function GroupPage() {
  const { groupId = "" } = useParams();
  const q = useGroup(groupId);
  return (
    <section className="page">
      <div className="crumbs">
        <Link to="/queue">Queue</Link> /
      </div>
      <QueryView q={q} lines={8}>
        {(d) => {
          const g = d.group;
          return (
            <>
              <div className="page-head">
                <h1 className="mono">{g.group_id}</h1>
                <GroupStateBadge state={g.state} />
                <div className="actions">
                  <RetryButton d={d} />
                </div>
              </div>
              {g.error_message && (
                <div className="panel" style={{ borderColor: "#ecc3c3" }}>
                  <h2>Error</h2>
                  <pre className="error-text" style={{ margin: 0 }} data-testid="group-error">
                    {g.error_message}
                  </pre>
                </div>
              )}
              <div className="grid">
                <div className="panel span-5">
                  <h2>Group</h2>
                  <table className="kv">
                    <tbody>
                      <tr><th>Received</th><td><Time unix={g.received_at} seconds ago /></td></tr>
                      <tr><th>Last update</th><td><Time unix={g.last_update} seconds ago /></td></tr>
                      <tr><th>Subbands</th><td>{g.subbands_present} of {g.expected_subbands}{d.missing_subbands.length > 0 && <span className="muted"> · missing sb{d.missing_subbands.map((i) => String(i).padStart(2, "0")).join(", sb")}</span>}</td></tr>
                      <tr><th>Total size</th><td>{fmtBytes(d.total_size_bytes)}</td></tr>
                      <tr><th>Calibrator</th><td>{g.has_calibrator == null ? <span className="muted">not checked</span> : g.has_calibrator ? (g.calibrators ?? []).map((c) => String((c as { name?: unknown }).name ?? JSON.stringify(c))).join(", ") || "yes" : "none in beam"}</td></tr>
                      <tr><th>Retries</th><td>{g.retry_count}</td></tr>
                      {d.lease_owner && <tr><th>Worker</th><td className="mono">{d.lease_owner} {d.lease_expires_at && <span className="muted">(lease until <Time unix={d.lease_expires_at} seconds />)</span>}</td></tr>}
                      {d.next_attempt_at && <tr><th>Next attempt</th><td><Time unix={d.next_attempt_at} seconds ago /></td></tr>}
                    </tbody>
                  </table>
                </div>
                <div className="panel span-7">
                  <h2>Per-stage timings</h2>
                  {d.performance ? <StageTimings d={d} /> : <p className="muted">Not processed yet: no timings recorded.</p>}
                </div>
                <div className="panel span-12">
                  <h2>Subband files</h2>
                  <DataTable
                    testId="subband-files"
                    rows={d.subband_files}
                    rowKey={(f) => f.id}
                    columns={[
                      { key: "sb", header: "Subband", num: true, render: (f) => <span className="mono">sb{String(f.subband_idx).padStart(2, "0")}</span> },
                      { key: "p", header: "File", render: (f) => <span className="path">{f.file_path}</span> },
                      { key: "s", header: "Size", num: true, render: (f) => fmtBytes(f.file_size) },
                      { key: "d", header: "Discovered", unit: "UTC · MJD", minor: true, render: (f) => <Time unix={f.discovered_at} seconds /> },
                    ]}
                  />
                  {d.missing_subbands.length > 0 && (
                    <p className="small muted">
                      <Badge tone="warn">{d.missing_subbands.length} missing</Badge> sb
                      {d.missing_subbands.map((i) => String(i).padStart(2, "0")).join(", sb")}
                    </p>
                  )}
                </div>
              </div>
            </>
          );
        }}
      </QueryView>
    </section>
  );
}
