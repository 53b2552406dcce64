import { useMemo, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { useScatter, useSources, type SourceSearch } from "../data/queries";
import type { SourceListItem, VariabilityScatter } from "../data/types";
import { Empty, QueryView } from "../components/Async";
import { Badge } from "../components/Badge";
import { DataTable, Pager, type Column } from "../components/DataTable";
import { Plot } from "../components/Plot";
import { Time } from "../components/Time";
import { fmtDec, fmtFixed, fmtRa, fmtSig, parseCoord } from "../lib/format";
import { useUrlState } from "../lib/params";
import { sigmaTone } from "../lib/status";

const LIMIT = 50;

export const sourceHref = (id: string) => `/sources/${encodeURIComponent(id)}`;

const columns: Column<SourceListItem>[] = [
  { key: "id", header: "Source", sort: "source_id", render: (s) => <Link to={sourceHref(s.source_id)}>{s.source_id}</Link> },
  { key: "ra", header: "RA", unit: "hh:mm:ss", num: true, sort: "ra_deg", render: (s) => fmtRa(s.ra_deg) },
  { key: "dec", header: "Dec", unit: "dd:mm:ss", num: true, sort: "dec_deg", render: (s) => fmtDec(s.dec_deg) },
  { key: "nvss", header: "NVSS", unit: "mJy", num: true, sort: "nvss_flux_mjy", minor: true, render: (s) => fmtSig(s.nvss_flux_mjy, 3) },
  { key: "mean", header: "Mean flux", unit: "mJy", num: true, sort: "mean_flux_mjy", render: (s) => fmtSig(s.mean_flux_mjy, 4) },
  { key: "std", header: "Std", unit: "mJy", num: true, minor: true, render: (s) => fmtSig(s.std_flux_mjy, 2) },
  { key: "n", header: "N obs", num: true, sort: "n_obs", render: (s) => s.n_obs },
  { key: "chi2", header: "χ²_ν", num: true, sort: "chi2_nu", render: (s) => fmtSig(s.chi2_nu, 3) },
  { key: "eta", header: "η", num: true, sort: "eta_metric", minor: true, render: (s) => fmtSig(s.eta_metric, 3) },
  { key: "sig", header: "Max dev.", unit: "σ", num: true, sort: "sigma_deviation", render: (s) => <Badge tone={sigmaTone(s.sigma_deviation)}>{fmtFixed(s.sigma_deviation, 1)}</Badge> },
  { key: "last", header: "Last measured", unit: "UTC · MJD", sort: "last_mjd", minor: true, render: (s) => <Time mjd={s.last_mjd} /> },
];

type YMetric = "chi2_nu" | "eta_metric";

function ScatterPlot({ d, y }: { d: VariabilityScatter; y: YMetric }) {
  const navigate = useNavigate();
  const { data, layout, omitted } = useMemo(() => {
    const xs: number[] = [];
    const ys: number[] = [];
    const ids: string[] = [];
    const flux: (number | null)[] = [];
    let omitted = 0;
    d.source_id.forEach((id, i) => {
      const xv = d.sigma_deviation[i];
      const yv = d[y][i];
      if (xv != null && yv != null && xv > 0 && yv > 0) {
        xs.push(xv);
        ys.push(yv);
        ids.push(id);
        flux.push(d.mean_flux_mjy[i]);
      } else omitted += 1;
    });
    const yLabel = y === "chi2_nu" ? "χ²_ν (reduced chi-square)" : "η (weighted variance)";
    return {
      omitted,
      data: [
        {
          type: "scatter",
          mode: "markers",
          x: xs,
          y: ys,
          customdata: ids,
          text: ids.map((id, i) => `${id}<br>mean ${fmtSig(flux[i], 3)} mJy`),
          hovertemplate: `%{text}<br>σ_dev %{x:.2f}<br>${y === "chi2_nu" ? "χ²_ν" : "η"} %{y:.3g}<extra></extra>`,
          marker: {
            size: 6,
            color: xs.map((v) => (v >= 5 ? "#b03a3a" : v >= 3 ? "#c98a2b" : "#3a7ca5")),
            opacity: 0.75,
            line: { width: 0 },
          },
          name: "sources",
          showlegend: false,
        },
      ],
      layout: {
        xaxis: { type: "log", title: { text: "max deviation σ_dev (sigma)" } },
        yaxis: { type: "log", title: { text: yLabel } },
        shapes: [
          { type: "line", xref: "x", yref: "paper", x0: 5, x1: 5, y0: 0, y1: 1, line: { color: "#b03a3a", dash: "dot", width: 1 } },
        ],
        annotations: [{ x: Math.log10(5), y: 1, xref: "x", yref: "paper", text: "5σ", showarrow: false, yanchor: "bottom", font: { size: 10, color: "#b03a3a" } }],
        hovermode: "closest",
      },
    };
  }, [d, y]);
  return (
    <>
      <Plot data={data} layout={layout} height={330} testId="variability-scatter" onPointClick={(id) => typeof id === "string" && navigate(sourceHref(id))} />
      <p className="figure-note">
        {d.count} sources{d.truncated ? ` (first ${d.source_id.length} plotted)` : ""}
        {omitted > 0 ? ` · ${omitted} without positive statistics (fewer than 2 measurements) not shown on log axes` : ""} · click a point
        for its light curve · drag to zoom, double-click to reset
      </p>
    </>
  );
}

interface Form {
  ra: string;
  dec: string;
  radius: string;
  name: string;
  minFlux: string;
  maxFlux: string;
  minSigma: string;
  minChi2: string;
  minEta: string;
  minN: string;
}

const FIELDS: Record<keyof Form, string> = {
  ra: "ra",
  dec: "dec",
  radius: "r",
  name: "name",
  minFlux: "fmin",
  maxFlux: "fmax",
  minSigma: "smin",
  minChi2: "chimin",
  minEta: "etamin",
  minN: "nmin",
};

function exportQuery(search: Record<string, unknown>): string {
  const qs = new URLSearchParams({ format: "csv" });
  for (const [k, v] of Object.entries(search)) if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
  return qs.toString();
}

export function SourcesPage() {
  const { get, num, set } = useUrlState();
  const form0 = Object.fromEntries(Object.entries(FIELDS).map(([k, p]) => [k, get(p) ?? ""])) as unknown as Form;
  const [form, setForm] = useState<Form>(form0);
  const [formError, setFormError] = useState<string | null>(null);
  const [y, setY] = useState<YMetric>("chi2_nu");
  const sort = get("sort") ?? "-sigma_deviation";
  const offset = num("offset") ?? 0;

  const ra = form0.ra ? parseCoord(form0.ra, "ra") : null;
  const dec = form0.dec ? parseCoord(form0.dec, "dec") : null;
  const n = (v: string) => (v.trim() === "" || !Number.isFinite(Number(v)) ? undefined : Number(v));
  const search: Omit<SourceSearch, "limit" | "offset" | "sort"> = {
    ...(ra != null && dec != null ? { ra_deg: ra, dec_deg: dec, radius_deg: (n(form0.radius) ?? 600) / 3600 } : {}),
    source_id_contains: form0.name || undefined,
    min_flux_mjy: n(form0.minFlux),
    max_flux_mjy: n(form0.maxFlux),
    min_sigma_deviation: n(form0.minSigma),
    min_chi2_nu: n(form0.minChi2),
    min_eta: n(form0.minEta),
    min_n_obs: n(form0.minN),
  };
  const list = useSources({ ...search, sort, limit: LIMIT, offset });
  const scatter = useScatter(search);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if ((form.ra && parseCoord(form.ra, "ra") == null) || (form.dec && parseCoord(form.dec, "dec") == null)) {
      setFormError("RA/Dec: give degrees (188.73) or sexagesimal (12:34:56.7 / +42:03:12)");
      return;
    }
    if (Boolean(form.ra) !== Boolean(form.dec)) {
      setFormError("A cone search needs both RA and Dec");
      return;
    }
    setFormError(null);
    set(Object.fromEntries(Object.entries(FIELDS).map(([k, p]) => [p, form[k as keyof Form]])));
  };
  const input = (k: keyof Form, label: string, placeholder: string, width = "7em") => (
    <label>
      {label}
      <input value={form[k]} placeholder={placeholder} style={{ width }} onChange={(e) => setForm({ ...form, [k]: e.target.value })} />
    </label>
  );

  return (
    <section className="page">
      <div className="page-head">
        <h1>Sources</h1>
        <span className="sub">Cone, flux and variability search over measured sources</span>
      </div>
      <div className="grid">
        <form className="panel span-6" onSubmit={submit} role="search" aria-label="Source search">
          <h2>Search</h2>
          <h3>Cone</h3>
          <div className="filters">
            {input("ra", "RA (deg or hh:mm:ss)", "180.0", "10em")}
            {input("dec", "Dec (deg or dd:mm:ss)", "+40:00:00", "10em")}
            {input("radius", "Radius (arcsec)", "600")}
            {input("name", "Name contains", "J1158", "9em")}
          </div>
          <h3>Flux and variability</h3>
          <div className="filters">
            {input("minFlux", "Mean flux ≥ (mJy)", "")}
            {input("maxFlux", "Mean flux ≤ (mJy)", "")}
            {input("minN", "N obs ≥", "")}
          </div>
          <div className="filters">
            {input("minSigma", "σ_dev ≥", "")}
            {input("minChi2", "χ²_ν ≥", "")}
            {input("minEta", "η ≥", "")}
          </div>
          <div className="filters">
            <div className="row">
              <button type="submit" className="btn primary">Search</button>
              <button
                type="button"
                className="btn"
                onClick={() => {
                  const empty = Object.fromEntries(Object.keys(FIELDS).map((k) => [k, ""])) as unknown as Form;
                  setForm(empty);
                  set(Object.fromEntries(Object.values(FIELDS).map((p) => [p, null])));
                }}
              >
                Clear
              </button>
            </div>
          </div>
          {formError && <div className="error-box">{formError}</div>}
        </form>
        <div className="panel span-6">
          <div className="panel-head">
            <h2>Variability</h2>
            <div className="seg more" role="group" aria-label="Y axis">
              <button type="button" aria-pressed={y === "chi2_nu"} onClick={() => setY("chi2_nu")}>χ²_ν</button>
              <button type="button" aria-pressed={y === "eta_metric"} onClick={() => setY("eta_metric")}>η</button>
            </div>
          </div>
          <QueryView q={scatter}>{(d) => (d.count ? <ScatterPlot d={d} y={y} /> : <Empty>No sources match.</Empty>)}</QueryView>
        </div>
        <div className="panel span-12">
          <div className="panel-head">
            <h2>Results</h2>
            <a className="more small" href={`/api/v1/sources/export?${exportQuery(search)}`}>export CSV</a>
          </div>
          <QueryView q={list} lines={10}>
            {(page) =>
              page.data.length ? (
                <>
                  <DataTable
                    testId="sources-table"
                    columns={columns}
                    rows={page.data}
                    rowKey={(s) => s.source_id}
                    rowHref={(s) => sourceHref(s.source_id)}
                    sort={{ key: sort.replace(/^[-+]/, ""), desc: sort.startsWith("-") }}
                    onSort={(s) => set({ sort: `${s.desc ? "-" : ""}${s.key}` })}
                  />
                  <Pager count={page.count} limit={LIMIT} offset={offset} onOffset={(o) => set({ offset: o }, false)} />
                </>
              ) : (
                <Empty>No sources match these filters.</Empty>
              )
            }
          </QueryView>
        </div>
      </div>
    </section>
  );
}
