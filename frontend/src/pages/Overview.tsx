import { useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { useCandidates, useHealth, useImages, useStatus, useThroughput } from "../data/queries";
import type { CalibrationSet, ESECandidate, ImageRow, QueueStats, RecentGroup, Throughput } from "../data/types";
import { Empty, ErrorBox, Loading, QueryView } from "../components/Async";
import { Badge } from "../components/Badge";
import { DataTable, type Column } from "../components/DataTable";
import { LiveRateLine } from "../components/LiveRate";
import { Plot } from "../components/Plot";
import { Time } from "../components/Time";
import { fmtAgo, fmtBytes, fmtUtc, fmtArcsec, fmtDuration, fmtFixed, fmtIsoUtc, fmtJyAsMjy, fmtMjd, fmtMjdUtc, fmtNoise, unixToMjd } from "../lib/format";
import { candidateStatusLabel, candidateStatusTone, groupStateLabel, groupStateTone, sigmaTone, validityOf, validityTone } from "../lib/status";

const COUNTS: [keyof QueueStats, string, string][] = [
  ["collecting", "collecting", "neutral"],
  ["pending", "pending", "info"],
  ["in_progress", "in progress", "progress"],
  ["completed", "completed", "ok"],
  ["failed", "failed", "bad"],
];

function QueueCounts({ q }: { q: QueueStats }) {
  return (
    <div className="stats" data-testid="queue-counts">
      <div className="stat tone-neutral">
        <div className="v">{q.total}</div>
        <div className="k">groups in total</div>
      </div>
      {COUNTS.map(([k, label, tone]) => (
        <Link key={k} to={`/queue?state=${k === "in_progress" ? "in_progress,processing_fresh" : k}`} className={`stat tone-${tone}`}>
          <div className="v">{q[k] as number}</div>
          <div className="k">
            {label}
            {k === "in_progress" && q.processing_fresh ? ` (${q.processing_fresh} fresh)` : ""}
          </div>
        </Link>
      ))}
    </div>
  );
}

function ThroughputPlot({ t }: { t: Throughput }) {
  const { data, layout } = useMemo(() => {
    const x = t.bins.map((b) => new Date(b.bin_start * 1000).toISOString());
    const perHour = 3600 / t.bin_s;
    return {
      data: [
        {
          type: "bar",
          marker: { color: "#b8c3cd" },
          name: "arrived",
          x,
          y: t.bins.map((b) => b.arrived * perHour),
          hovertemplate: "%{x|%H:%M} UTC: %{y:.2f} arrived/h<extra></extra>",
        },
        {
          type: "bar",
          marker: { color: "#2e7d5b" },
          name: "completed",
          x,
          y: t.bins.map((b) => b.completed * perHour),
          hovertemplate: "%{x|%H:%M} UTC: %{y:.2f} completed/h<extra></extra>",
        },
        {
          type: "bar",
          marker: { color: "#c0504d" },
          name: "failed",
          x,
          y: t.bins.map((b) => b.failed * perHour),
          hovertemplate: "%{x|%H:%M} UTC: %{y:.2f} failed/h<extra></extra>",
        },
        {
          type: "scatter",
          mode: "lines",
          line: { color: "#7a8794", dash: "dash", width: 1.5 },
          name: "mean arrival rate",
          x: [x[0], x[x.length - 1]],
          y: [t.arrival_rate_per_hour, t.arrival_rate_per_hour],
          hoverinfo: "skip",
        },
      ],
      layout: {
        xaxis: { title: { text: "UTC" }, type: "date" },
        yaxis: { title: { text: "groups / hour" }, rangemode: "tozero" },
        barmode: "group",
        bargap: 0.25,
        bargroupgap: 0.05,
      },
    };
  }, [t]);
  const keepingUp = t.completion_rate_per_hour >= t.arrival_rate_per_hour * 0.95;
  return (
    <>
      <div className="row small" style={{ marginBottom: 4 }}>
        <span>
          arrival <strong>{fmtFixed(t.arrival_rate_per_hour, 2)}</strong>/h · completion{" "}
          <strong>{fmtFixed(t.completion_rate_per_hour, 2)}</strong>/h
        </span>
        <Badge tone={t.arrival_rate_per_hour === 0 ? "neutral" : keepingUp ? "ok" : "warn"}>
          {t.arrival_rate_per_hour === 0 ? "idle" : keepingUp ? "keeping up" : "falling behind"}
        </Badge>
      </div>
      <Plot data={data} layout={layout} height={230} testId="throughput-plot" />
    </>
  );
}

export function GroupStateBadge({ state }: { state: string }) {
  return <Badge tone={groupStateTone(state)}>{groupStateLabel(state)}</Badge>;
}

const groupCols: Column<RecentGroup>[] = [
  { key: "id", header: "Group", render: (g) => <Link to={`/queue/${encodeURIComponent(g.group_id)}`} className="mono">{g.group_id}</Link> },
  { key: "state", header: "State", render: (g) => <GroupStateBadge state={g.state} /> },
  { key: "sb", header: "Subbands", num: true, render: (g) => `${g.subbands_present}/${g.expected_subbands}` },
  { key: "t", header: "Processing", num: true, minor: true, render: (g) => fmtDuration(g.total_time_s) },
  { key: "upd", header: "Last update", render: (g) => <span className="time" title={`${fmtUtc(g.last_update)} UTC · MJD ${fmtMjd(unixToMjd(g.last_update))}`}>{fmtAgo(g.last_update)}</span> },
];

function calWindow(s: CalibrationSet, nowMjd: number) {
  const v = validityOf(s.valid_start_mjd, s.valid_end_mjd, nowMjd);
  return <Badge tone={validityTone(v, s.active)}>{s.active ? (v === "current" ? "covers now" : v) : "inactive"}</Badge>;
}

function ActiveSets({ sets }: { sets: CalibrationSet[] }) {
  const nowMjd = unixToMjd(Date.now() / 1000);
  const shown = sets.filter((s) => s.active).sort((a, b) => b.valid_end_mjd - a.valid_end_mjd).slice(0, 6);
  if (!shown.length) return <Empty>No active calibration sets.</Empty>;
  return (
    <DataTable
      testId="cal-sets"
      rows={shown}
      rowKey={(s) => s.set_name}
      rowHref={() => "/calibration"}
      columns={[
        { key: "n", header: "Set", render: (s) => <span className="mono">{s.set_name}</span> },
        { key: "t", header: "Tables", render: (s) => <span className="nowrap">{s.tables.map((t) => t.table_type).join(" · ")}</span> },
        {
          key: "v",
          header: "Validity",
          unit: "UTC · MJD",
          render: (s) => (
            <>
              <span className="nowrap">{`${fmtMjdUtc(s.valid_start_mjd, false).slice(5)} → ${fmtMjdUtc(s.valid_end_mjd, false).slice(5)}`}</span>
              <div className="small muted nowrap">{`${fmtMjd(s.valid_start_mjd, 3)} → ${fmtMjd(s.valid_end_mjd, 3)}`}</div>
            </>
          ),
        },
        { key: "s", header: "", render: (s) => calWindow(s, nowMjd) },
      ]}
    />
  );
}

function LatestImages() {
  const q = useImages({ limit: 6, offset: 0, sort: "-created_at" });
  return (
    <QueryView q={q}>
      {(page) =>
        page.data.length ? (
          <DataTable<ImageRow>
            testId="latest-images"
            rows={page.data}
            rowKey={(i) => i.id}
            rowHref={(i) => `/images/${i.id}`}
            columns={[
              { key: "f", header: "Field", render: (i) => <Link to={`/images/${i.id}`}>{i.field_name ?? `#${i.id}`}</Link> },
              { key: "ty", header: "Type", render: (i) => i.type },
              { key: "n", header: "Noise", unit: "mJy/beam", num: true, render: (i) => fmtNoise(i.noise_jy).replace(" mJy/bm", "") },
              { key: "b", header: "Beam", unit: "arcsec", num: true, minor: true, render: (i) => fmtArcsec(i.beam_major_arcsec) },
              { key: "c", header: "Created", unit: "UTC · MJD", render: (i) => <Time unix={i.created_at} /> },
            ]}
          />
        ) : (
          <Empty>No images yet.</Empty>
        )
      }
    </QueryView>
  );
}

function NewestCandidates() {
  const q = useCandidates({ limit: 6, offset: 0, status: ["active"], sort: "-flagged_at" });
  return (
    <QueryView q={q}>
      {(page) =>
        page.data.length ? (
          <DataTable<ESECandidate>
            testId="newest-candidates"
            rows={page.data}
            rowKey={(c) => c.id}
            rowHref={(c) => `/sources/${encodeURIComponent(c.source_id)}`}
            columns={[
              { key: "s", header: "Source", render: (c) => <Link to={`/sources/${encodeURIComponent(c.source_id)}`}>{c.source_id}</Link> },
              { key: "sig", header: "Max dev.", unit: "σ", num: true, render: (c) => <Badge tone={sigmaTone(c.max_sigma_dev)}>{fmtFixed(c.max_sigma_dev, 1)}</Badge> },
              { key: "pk", header: "Peak / base", unit: "mJy", num: true, minor: true, render: (c) => `${fmtJyAsMjy(c.peak_flux_jy).replace(" mJy", "")} / ${fmtJyAsMjy(c.baseline_flux_jy).replace(" mJy", "")}` },
              { key: "st", header: "Status", render: (c) => <Badge tone={candidateStatusTone(c.status)}>{candidateStatusLabel(c.status)}</Badge> },
              { key: "l", header: "Last detection", unit: "UTC", minor: true, render: (c) => fmtIsoUtc(c.last_detection_at).slice(0, 16) },
            ]}
          />
        ) : (
          <Empty>No active candidates.</Empty>
        )
      }
    </QueryView>
  );
}

/** Databases, disks and workers in one line: what an operator checks first. */
function HealthStrip() {
  const q = useHealth();
  if (q.isPending) return <Loading lines={1} label="Loading health" />;
  if (q.isError) return <ErrorBox error={q.error} onRetry={() => void q.refetch()} />;
  const h = q.data;
  const badDbs = h.databases.filter((d) => !d.ok);
  const live = h.workers.filter((w) => !w.expired);
  const expired = h.workers.filter((w) => w.expired);
  return (
    <div className="row small" data-testid="health" style={{ marginTop: 8, gap: "0.9rem" }}>
      <Badge tone={h.ok ? "ok" : "bad"}>{h.ok ? "databases ok" : `${badDbs.length} database(s) not ok`}</Badge>
      {badDbs.map((d) => (
        <span key={d.name} className="error-text">
          {d.name}: {d.error}
        </span>
      ))}
      {h.disks.map((d) => (
        <span key={d.name} title={d.path}>
          {d.name}{" "}
          {d.exists && d.used_fraction != null ? (
            <Badge tone={d.used_fraction > 0.9 ? "bad" : d.used_fraction > 0.8 ? "warn" : "neutral"}>
              {fmtBytes(d.free_bytes)} free
            </Badge>
          ) : (
            <Badge tone="warn">missing</Badge>
          )}
        </span>
      ))}
      <span title={h.workers.map((w) => `${w.worker_id}: ${w.n_groups} group(s)${w.expired ? " (lease expired)" : ""}`).join("\n")}>
        workers <Badge tone={live.length ? "progress" : "neutral"}>{live.length} active</Badge>
        {expired.length > 0 && <Badge tone="warn">{expired.length} lease(s) expired</Badge>}
      </span>
      <span className="muted">
        {h.backend} · v{h.version} · {h.event_clients} live client{h.event_clients === 1 ? "" : "s"}
      </span>
    </div>
  );
}

const WINDOWS: [number, number, string][] = [
  [6, 600, "6 h"],
  [24, 3600, "24 h"],
  [24 * 7, 6 * 3600, "7 d"],
];

export function OverviewPage() {
  const status = useStatus();
  const [win, setWin] = useState(1);
  const [windowH, binS] = WINDOWS[win];
  const tp = useThroughput(windowH, binS);
  return (
    <section className="page">
      <div className="page-head">
        <h1>Overview</h1>
        <span className="sub">Does the pipeline keep up, and what failed?</span>
      </div>
      <div className="grid">
        <div className="panel span-12">
          <div className="panel-head">
            <h2>Queue</h2>
            <Link className="more" to="/queue">all groups →</Link>
          </div>
          {status.isPending ? <Loading lines={2} /> : status.isError ? <ErrorBox error={status.error} onRetry={() => void status.refetch()} /> : <QueueCounts q={status.data.queue} />}
          {status.data && <LiveRateLine s={status.data} />}
          <HealthStrip />
        </div>
        <div className="panel span-6">
          <div className="panel-head">
            <h2>Throughput vs arrival rate</h2>
            <div className="seg more" role="group" aria-label="Time window">
              {WINDOWS.map(([, , label], i) => (
                <button key={label} type="button" aria-pressed={i === win} onClick={() => setWin(i)}>
                  {label}
                </button>
              ))}
            </div>
          </div>
          <QueryView q={tp}>{(t) => <ThroughputPlot t={t} />}</QueryView>
        </div>
        <div className="panel span-6">
          <div className="panel-head">
            <h2>Recent groups</h2>
            <Link className="more" to="/queue">queue →</Link>
          </div>
          <QueryView q={status}>
            {(s) =>
              s.recent_groups.length ? (
                <DataTable
                  testId="recent-groups"
                  rows={s.recent_groups.slice(0, 8)}
                  rowKey={(g) => g.group_id}
                  rowHref={(g) => `/queue/${encodeURIComponent(g.group_id)}`}
                  rowClass={(g) => (g.state === "failed" ? "row-bad" : undefined)}
                  columns={groupCols}
                />
              ) : (
                <Empty>No groups yet.</Empty>
              )
            }
          </QueryView>
        </div>
        <div className="panel span-6">
          <div className="panel-head">
            <h2>Active calibration sets</h2>
            <Link className="more" to="/calibration">timeline →</Link>
          </div>
          <QueryView q={status}>{(s) => <ActiveSets sets={s.calibration_sets} />}</QueryView>
        </div>
        <div className="panel span-6">
          <div className="panel-head">
            <h2>Newest ESE candidates</h2>
            <Link className="more" to="/candidates">triage →</Link>
          </div>
          <NewestCandidates />
        </div>
        <div className="panel span-12">
          <div className="panel-head">
            <h2>Latest images</h2>
            <Link className="more" to="/images">all images →</Link>
          </div>
          <LatestImages />
        </div>
      </div>
    </section>
  );
}
