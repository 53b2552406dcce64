import { useMemo, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { cutoutUrl, useFlagSource, useLightCurve, useSource } from "../data/queries";
import type { LightCurve, SourceDetail } from "../data/types";
import { Empty, ErrorBox, QueryView, ApiImage } from "../components/Async";
import { Badge } from "../components/Badge";
import { CandidateReasonView } from "../components/CandidateReason";
import { Plot } from "../components/Plot";
import { fmtDec, fmtDeg, fmtFixed, fmtIsoUtc, fmtJyAsMjy, fmtMjd, fmtMjdUtc, fmtSig } from "../lib/format";
import { mjdAxis } from "../lib/axes";
import { hasRaw, series, weightedMean, type LcMode } from "../lib/lightcurve";
import { candidateStatusLabel, candidateStatusTone, sigmaTone } from "../lib/status";
import { fmtRa } from "../lib/format";
import { getToken, getUserName, setUserName } from "../lib/token";

const MODES: [LcMode, string][] = [
  ["normalised", "normalised (mJy)"],
  ["relative", "relative F/⟨F⟩"],
  ["raw", "raw (mJy)"],
];

function LightCurvePlot({ lc }: { lc: LightCurve }) {
  const [mode, setMode] = useState<LcMode>("normalised");
  const [xUtc, setXUtc] = useState(false);
  const rawAvailable = hasRaw(lc.points);
  const pts = useMemo(() => lc.points.filter((p) => p.mjd != null), [lc]);
  const fig = useMemo(() => {
    const s = series(pts, mode);
    const x = pts.map((p) => (xUtc ? new Date(((p.mjd as number) - 40587) * 86400000).toISOString() : p.mjd));
    // the baseline: weighted mean of the measurements the statistics use
    const good = pts.filter((p) => p.used);
    const mu = weightedMean(good.length ? good : pts);
    const base = mode === "relative" ? 1 : mode === "normalised" ? mu : null;
    const text = pts.map(
      (p, i) =>
        `MJD ${fmtMjd(p.mjd)}<br>${fmtMjdUtc(p.mjd)} UTC<br>${fmtSig(s.y[i], 4)} ± ${fmtSig(s.err[i], 2)} ${s.unit}` +
        `<br>S/N ${fmtFixed(p.snr, 1)} · field ${p.field_name ?? "–"}<br>image rms ${fmtSig(p.image_noise_mjy, 3)} mJy/beam` +
        (p.flag_names.length ? `<br>flags ${p.flag_names.join(", ")}` : "") +
        (p.used ? "" : "<br>not used in the statistics") +
        `<br>image #${p.image_id} (click to open)`,
    );
    const pick = (flagged: boolean) => pts.map((p, i) => (!p.used === flagged ? i : -1)).filter((i) => i >= 0);
    const trace = (idx: number[], flagged: boolean) => ({
      type: "scatter",
      mode: "markers",
      name: flagged ? "not used (quality flags)" : "measurements",
      x: idx.map((i) => x[i]),
      y: idx.map((i) => s.y[i]),
      customdata: idx.map((i) => pts[i].image_id),
      error_y: { type: "data", array: idx.map((i) => s.err[i] ?? 0), visible: true, color: flagged ? "#c9b08a" : "#7a98b3", thickness: 1.2, width: 3 },
      marker: flagged
        ? { color: "rgba(0,0,0,0)", size: 7, line: { color: "#a86a12", width: 1.5 } }
        : { color: "#2f6690", size: 7, line: { color: "#fff", width: 0.5 } },
      text: idx.map((i) => text[i]),
      hovertemplate: "%{text}<extra></extra>",
    });
    const goodIdx = pick(false);
    const flaggedIdx = pick(true);
    return {
      data: flaggedIdx.length ? [trace(goodIdx, false), trace(flaggedIdx, true)] : [trace(goodIdx, false)],
      layout: {
        xaxis: xUtc ? { title: { text: "UTC" }, type: "date" } : mjdAxis("MJD (UTC)"),
        yaxis: { title: { text: `flux density [${s.unit}]` } },
        shapes:
          base != null
            ? [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: base, y1: base, line: { color: "#9aa7b3", dash: "dash", width: 1 } }]
            : [],
        showlegend: flaggedIdx.length > 0,
        hovermode: "closest",
      },
    };
  }, [pts, mode, xUtc]);
  const navigate = useNavigate();
  if (!pts.length) return <Empty>No measurements with an observation time yet.</Empty>;
  return (
    <>
      <div className="row" style={{ marginBottom: 4 }}>
        <div className="seg" role="group" aria-label="Flux scale">
          {MODES.map(([m, label]) => (
            <button
              key={m}
              type="button"
              aria-pressed={mode === m}
              disabled={m === "raw" && !rawAvailable}
              title={m === "raw" && !rawAvailable ? "The API does not provide raw (un-normalised) fluxes for this source" : undefined}
              onClick={() => setMode(m)}
            >
              {label}
            </button>
          ))}
        </div>
        <div className="seg" role="group" aria-label="Time axis">
          <button type="button" aria-pressed={!xUtc} onClick={() => setXUtc(false)}>MJD</button>
          <button type="button" aria-pressed={xUtc} onClick={() => setXUtc(true)}>UTC</button>
        </div>
        <span className="small muted">{pts.length} epochs · dashed: weighted mean</span>
      </div>
      <Plot
        data={fig.data}
        layout={fig.layout}
        height={340}
        testId="lightcurve-plot"
        onPointClick={(imageId) => typeof imageId === "number" && navigate(`/images/${imageId}`)}
      />
    </>
  );
}

function Metrics({ d }: { d: SourceDetail }) {
  const v = d.variability;
  const c = d.catalog;
  const items: [string, React.ReactNode][] = [
    ["N obs", v?.n_obs ?? "–"],
    ["mean flux", v ? `${fmtSig(v.mean_flux_mjy, 4)} mJy` : "–"],
    ["std", v ? `${fmtSig(v.std_flux_mjy, 3)} mJy` : "–"],
    ["min / max", v ? `${fmtSig(v.min_flux_mjy, 3)} / ${fmtSig(v.max_flux_mjy, 3)} mJy` : "–"],
    ["V = std/mean", v && v.mean_flux_mjy && v.std_flux_mjy != null ? fmtFixed(v.std_flux_mjy / v.mean_flux_mjy, 3) : "–"],
    ["χ²_ν", fmtSig(v?.chi2_nu, 3)],
    ["η", fmtSig(v?.eta_metric, 3)],
    ["max deviation", v?.sigma_deviation != null ? <Badge tone={sigmaTone(v.sigma_deviation)}>{fmtFixed(v.sigma_deviation, 2)} σ</Badge> : "–"],
    ["NVSS flux", c?.s_nvss != null ? fmtJyAsMjy(c.s_nvss) : v?.nvss_flux_mjy != null ? `${fmtSig(v.nvss_flux_mjy, 3)} mJy` : "–"],
    ["VLASS flux", c?.s_vlass != null ? fmtJyAsMjy(c.s_vlass) : "–"],
    ["spectral index α", fmtFixed(c?.alpha, 2)],
    ["last measured", v?.last_mjd != null ? `${fmtMjdUtc(v.last_mjd, false)} · MJD ${fmtMjd(v.last_mjd, 4)}` : "–"],
  ];
  return (
    <div className="metrics" data-testid="variability-metrics">
      {items.map(([k, val]) => (
        <div className="metric" key={k}>
          <div className="k">{k}</div>
          <div className="v">{val}</div>
        </div>
      ))}
    </div>
  );
}

function FlagForm({ sourceId, onDone }: { sourceId: string; onDone: () => void }) {
  const flag = useFlagSource(sourceId);
  const [by, setBy] = useState(getUserName);
  const [note, setNote] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setUserName(by);
    flag.mutate({ flagged_by: by.trim(), note: note.trim() }, { onSuccess: onDone });
  };
  return (
    <form className="panel" onSubmit={submit} data-testid="flag-form">
      <h2>Flag as ESE candidate</h2>
      {!getToken() && <p className="hint">Writes need the token: set it with the control at the top right.</p>}
      <div className="filters">
        <label>
          Your name or e-mail
          <input required value={by} onChange={(e) => setBy(e.target.value)} placeholder="astronomer@example.org" />
        </label>
      </div>
      <label className="field">
        Note
        <textarea value={note} onChange={(e) => setNote(e.target.value)} placeholder="Why this looks like an extreme scattering event" />
      </label>
      <div className="row" style={{ marginTop: 6 }}>
        <button type="submit" className="btn primary" disabled={flag.isPending || !by.trim()}>
          {flag.isPending ? "Flagging…" : "Flag"}
        </button>
        <button type="button" className="btn" onClick={onDone}>
          Cancel
        </button>
        {flag.isError && <ErrorBox error={flag.error} />}
      </div>
    </form>
  );
}

function Epochs({ lc, ra, dec }: { lc: LightCurve; ra: number; dec: number }) {
  const [all, setAll] = useState(false);
  const epochs = useMemo(() => [...lc.points].filter((p) => p.mjd != null).sort((a, b) => (b.mjd as number) - (a.mjd as number)), [lc]);
  if (!epochs.length) return <Empty>No images of this source are on record.</Empty>;
  const shown = all ? epochs : epochs.slice(0, 12);
  return (
    <>
      <div className="cutouts" data-testid="cutouts">
        {shown.map((p) => (
          <Link className="cutout" key={`${p.image_id}-${p.mjd}`} to={`/images/${p.image_id}`} title={`${p.image_path}\n${fmtMjdUtc(p.mjd)} UTC`}>
            <span className="frame">
              <ApiImage src={cutoutUrl(p.image_id, ra, dec)} alt={`Cutout at MJD ${fmtMjd(p.mjd)}`} />
            </span>
            <div>MJD {fmtMjd(p.mjd, 3)}</div>
            <div className="muted">
              {fmtSig(p.flux_mjy, 3)} mJy{p.used ? "" : " · not used"}
              {p.flag_names.length ? ` · ${p.flag_names.join(", ")}` : ""}
            </div>
          </Link>
        ))}
      </div>
      {epochs.length > shown.length && (
        <button type="button" className="btn small" style={{ marginTop: 6 }} onClick={() => setAll(true)}>
          show all {epochs.length} epochs
        </button>
      )}
    </>
  );
}

export function SourcePage() {
  const { sourceId = "" } = useParams();
  const q = useSource(sourceId);
  const lc = useLightCurve(sourceId);
  const [flagging, setFlagging] = useState(false);
  return (
    <section className="page">
      <div className="crumbs">
        <Link to="/sources">Sources</Link> /
      </div>
      <QueryView q={q} lines={6}>
        {(d) => {
          const ra = d.variability?.ra_deg ?? d.catalog?.ra_deg;
          const dec = d.variability?.dec_deg ?? d.catalog?.dec_deg;
          const open = d.candidates.filter((c) => c.status === "active");
          return (
            <>
              <div className="page-head">
                <h1>{d.source_id}</h1>
                {open.length > 0 && <Badge tone="warn">ESE candidate</Badge>}
                <span className="sub mono">
                  {fmtRa(ra)} {fmtDec(dec)} <span className="muted">({fmtDeg(ra, 5)}, {fmtDeg(dec, 5)})</span>
                </span>
                <div className="actions">
                  <button type="button" className="btn primary" onClick={() => setFlagging(true)} disabled={flagging || !d.variability} data-testid="flag-button" title={d.variability ? undefined : "Only measured sources can be flagged"}>
                    Flag as ESE…
                  </button>
                </div>
              </div>
              {flagging && <FlagForm sourceId={d.source_id} onDone={() => setFlagging(false)} />}
              <div className="panel">
                <div className="panel-head">
                  <h2>Light curve</h2>
                  <a className="more small" href={`/api/v1/photometry/export?format=csv&source_id=${encodeURIComponent(d.source_id)}`}>
                    photometry CSV
                  </a>
                </div>
                <QueryView q={lc}>{(l) => <LightCurvePlot lc={l} />}</QueryView>
              </div>
              <div className="grid">
                <div className="panel span-7">
                  <h2>Variability</h2>
                  <Metrics d={d} />
                </div>
                <div className="panel span-5">
                  <h2>ESE candidates</h2>
                  {d.candidates.length ? (
                    <table className="kv">
                      <tbody>
                        {d.candidates.map((c) => (
                          <tr key={c.id}>
                            <th>
                              <Link to={`/candidates?status=any&src=${encodeURIComponent(c.source_id)}`}>#{c.id}</Link>{" "}
                              <Badge tone={candidateStatusTone(c.status)}>{candidateStatusLabel(c.status)}</Badge>
                            </th>
                            <td>
                              {c.flag_type && <span className="muted">{c.flag_type} · </span>}
                              <span title="The largest deviation of the light curve as it stands now (max_sigma_dev); the reason below gives the significance at the time the candidate was flagged">max deviation now {fmtFixed(c.max_sigma_dev, 1)} σ</span> · last {fmtIsoUtc(c.last_detection_at).slice(0, 16)}
                              {c.reason && <CandidateReasonView reason={c.reason} />}
                              {c.notes && <div className="small muted" style={{ whiteSpace: "pre-wrap" }}>{c.notes}</div>}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  ) : (
                    <Empty>Not flagged.</Empty>
                  )}
                </div>
              </div>
              <div className="panel">
                <div className="panel-head">
                  <h2>Cutouts of the epochs</h2>
                  <span className="small muted">10′ × 10′, north up, newest first; the ticks mark the source</span>
                </div>
                {ra == null || dec == null ? <Empty>No position.</Empty> : <QueryView q={lc}>{(l) => <Epochs lc={l} ra={ra} dec={dec} />}</QueryView>}
              </div>
            </>
          );
        }}
      </QueryView>
    </section>
  );
}
