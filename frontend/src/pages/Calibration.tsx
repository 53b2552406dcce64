import { useState } from "react";
import { useCalibrationSets } from "../data/queries";
import type { CalibrationSet } from "../data/types";
import { Empty, QueryView } from "../components/Async";
import { Badge } from "../components/Badge";
import { DataTable } from "../components/DataTable";
import { Time } from "../components/Time";
import { Timeline } from "../components/Timeline";
import { fmtDuration, fmtMjd, fmtMjdUtc, unixToMjd } from "../lib/format";
import { validityOf, validityTone } from "../lib/status";

function SetDetail({ s }: { s: CalibrationSet }) {
  return (
    <div className="panel" data-testid="cal-set-detail">
      <h2 className="mono">{s.set_name}</h2>
      <table className="kv" style={{ marginBottom: 8 }}>
        <tbody>
          <tr><th>Valid from</th><td>{fmtMjdUtc(s.valid_start_mjd)} UTC · MJD {fmtMjd(s.valid_start_mjd)}</td></tr>
          <tr><th>Valid until</th><td>{fmtMjdUtc(s.valid_end_mjd)} UTC · MJD {fmtMjd(s.valid_end_mjd)}</td></tr>
          <tr><th>Window</th><td>{fmtDuration((s.valid_end_mjd - s.valid_start_mjd) * 86400)}</td></tr>
          <tr><th>Created</th><td><Time unix={s.created_at} ago /></td></tr>
        </tbody>
      </table>
      <DataTable
        rows={[...s.tables].sort((a, b) => a.order_index - b.order_index)}
        rowKey={(t) => t.path}
        columns={[
          { key: "o", header: "Order", num: true, render: (t) => t.order_index },
          { key: "ty", header: "Type", render: (t) => <strong>{t.table_type}</strong> },
          { key: "p", header: "Path", render: (t) => <span className="path">{t.path}</span> },
          { key: "w", header: "Validity", unit: "MJD", num: true, render: (t) => `${fmtMjd(t.valid_start_mjd, 4)} – ${fmtMjd(t.valid_end_mjd, 4)}` },
        ]}
      />
    </div>
  );
}

export function CalibrationPage() {
  const q = useCalibrationSets();
  const [sel, setSel] = useState<string | null>(null);
  const nowMjd = unixToMjd(Date.now() / 1000);
  return (
    <section className="page">
      <div className="page-head">
        <h1>Calibration</h1>
        <span className="sub">Validity windows of the calibration sets (K, BP, G) against time</span>
      </div>
      <QueryView q={q} lines={6}>
        {(page) => {
          const sets = [...page.data].sort((a, b) => a.valid_start_mjd - b.valid_start_mjd);
          if (!sets.length) return <div className="panel"><Empty>No calibration sets registered yet.</Empty></div>;
          const chosen = sets.find((s) => s.set_name === sel);
          return (
            <>
              <div className="panel" data-testid="cal-timeline">
                <div className="panel-head">
                  <h2>Timeline</h2>
                  <span className="small muted">{sets.length} sets · click a row for its tables</span>
                </div>
                <Timeline
                  nowMjd={nowMjd}
                  selected={sel}
                  onSelect={setSel}
                  items={sets.map((s) => ({
                    id: s.set_name,
                    label: s.set_name,
                    startMjd: s.valid_start_mjd,
                    endMjd: s.valid_end_mjd,
                    active: s.active,
                    detail: s.tables.map((t) => t.table_type).join(" · "),
                  }))}
                />
              </div>
              {chosen && <SetDetail s={chosen} />}
              <div className="panel">
                <h2>Sets</h2>
                <DataTable
                  testId="cal-sets-table"
                  rows={[...sets].reverse()}
                  rowKey={(s) => s.set_name}
                  rowClass={(s) => (s.set_name === sel ? "selected" : undefined)}
                  columns={[
                    { key: "n", header: "Set", render: (s) => <button type="button" className="btn small" onClick={() => setSel(s.set_name)}>{s.set_name}</button> },
                    { key: "t", header: "Tables", render: (s) => s.tables.map((t) => t.table_type).join(" · ") },
                    { key: "from", header: "Valid from", unit: "UTC · MJD", render: (s) => <Time mjd={s.valid_start_mjd} /> },
                    { key: "to", header: "Valid until", unit: "UTC · MJD", render: (s) => <Time mjd={s.valid_end_mjd} /> },
                    {
                      key: "st",
                      header: "State",
                      render: (s) => {
                        const v = validityOf(s.valid_start_mjd, s.valid_end_mjd, nowMjd);
                        return <Badge tone={validityTone(v, s.active)}>{s.active ? (s.covers_now ? "covers now" : v) : "inactive"}</Badge>;
                      },
                    },
                    { key: "c", header: "Created", unit: "UTC", minor: true, render: (s) => <Time unix={s.created_at} /> },
                  ]}
                />
              </div>
            </>
          );
        }}
      </QueryView>
    </section>
  );
}
