import { Link } from "react-router-dom";
import { useImages, type ImageParams } from "../data/queries";
import type { ImageRow } from "../data/types";
import { Empty, QueryView } from "../components/Async";
import { Badge } from "../components/Badge";
import { DataTable, Pager, type Column } from "../components/DataTable";
import { Time } from "../components/Time";
import { fmtBeam, fmtDec, fmtFixed, fmtRa, fmtSig, jyToMjy } from "../lib/format";
import { useUrlState } from "../lib/params";

const LIMIT = 50;
const TYPES = ["image", "pbcor", "residual", "mosaic"] as const;

export const imageColumns: Column<ImageRow>[] = [
  { key: "id", header: "#", num: true, sort: "id", render: (i) => <Link to={`/images/${i.id}`}>{i.id}</Link> },
  { key: "field", header: "Field", sort: "field_name", render: (i) => <Link to={`/images/${i.id}`}>{i.field_name ?? "–"}</Link> },
  { key: "type", header: "Type", sort: "type", render: (i) => <Badge tone={i.pbcor ? "info" : "neutral"}>{i.type}{i.pbcor ? " · pb" : ""}</Badge> },
  {
    key: "qc",
    header: "QC",
    sort: "qc_status",
    render: (i) =>
      i.qc_status === "rejected" ? (
        <span data-testid="qc-rejected" title={(i.qc_reasons ?? []).join("\n")}>
          <Badge tone="bad">rejected</Badge> <span className="small muted">{(i.qc_reasons ?? [])[0] ?? ""}</span>
        </span>
      ) : i.qc_status === "ok" ? (
        <Badge tone="ok">ok</Badge>
      ) : (
        "–"
      ),
  },
  { key: "ra", header: "RA", unit: "hh:mm:ss", num: true, minor: true, render: (i) => fmtRa(i.center_ra_deg) },
  { key: "dec", header: "Dec", unit: "dd:mm:ss", num: true, minor: true, render: (i) => fmtDec(i.center_dec_deg) },
  { key: "noise", header: "Noise", unit: "mJy/beam", num: true, sort: "noise_jy", render: (i) => (i.noise_jy == null ? "–" : fmtSig(jyToMjy(i.noise_jy), 3)) },
  { key: "dr", header: "Dyn. range", num: true, sort: "dynamic_range", minor: true, render: (i) => fmtFixed(i.dynamic_range, 0) },
  { key: "beam", header: "Beam", unit: "arcsec × arcsec @ PA", num: true, minor: true, render: (i) => fmtBeam(i.beam_major_arcsec, i.beam_minor_arcsec, i.beam_pa_deg) },
  { key: "freq", header: "Freq", unit: "GHz", num: true, minor: true, sort: "freq_ghz", render: (i) => fmtFixed(i.freq_ghz, 4) },
  { key: "bw", header: "BW", unit: "MHz", num: true, minor: true, render: (i) => fmtFixed(i.bandwidth_mhz, 1) },
  { key: "int", header: "Int.", unit: "s", num: true, minor: true, render: (i) => fmtFixed(i.integration_sec, 0) },
  { key: "size", header: "Size", unit: "px", num: true, minor: true, render: (i) => (i.imsize_x ? `${i.imsize_x}×${i.imsize_y}` : "–") },
  { key: "created", header: "Created", unit: "UTC · MJD", sort: "created_at", render: (i) => <Time unix={i.created_at} /> },
];

export function ImagesPage() {
  const { get, num, set } = useUrlState();
  const type = (get("type") ?? "") as ImageParams["type"] | "";
  const field = get("field") ?? "";
  const sort = get("sort") ?? "-created_at";
  const offset = num("offset") ?? 0;
  const q = useImages({ type: type || undefined, field_name: field || undefined, sort, limit: LIMIT, offset });
  return (
    <section className="page">
      <div className="page-head">
        <h1>Images</h1>
        <span className="sub">Every image product with its metadata</span>
        <div className="actions">
          <a className="btn small" href={`/api/v1/images/export?format=csv${type ? `&type=${type}` : ""}`}>Export CSV</a>
        </div>
      </div>
      <div className="panel">
        <div className="filters" role="search">
          <label>
            Type
            <select value={type} onChange={(e) => set({ type: e.target.value })}>
              <option value="">any</option>
              {TYPES.map((t) => (
                <option key={t} value={t}>{t}</option>
              ))}
            </select>
          </label>
          <label>
            Field
            <input type="search" value={field} placeholder="e.g. J1234+42" onChange={(e) => set({ field: e.target.value })} />
          </label>
        </div>
        <QueryView q={q} lines={8}>
          {(page) =>
            page.data.length ? (
              <>
                <DataTable
                  testId="images-table"
                  columns={imageColumns}
                  rows={page.data}
                  rowKey={(i) => i.id}
                  rowHref={(i) => `/images/${i.id}`}
                  sort={{ key: sort.replace(/^[-+]/, ""), desc: sort.startsWith("-") }}
                  onSort={(s) => set({ sort: `${s.desc ? "-" : ""}${s.key}` })}
                />
                <Pager count={page.count} limit={LIMIT} offset={offset} onOffset={(o) => set({ offset: o }, false)} />
              </>
            ) : (
              <Empty>No images match.</Empty>
            )
          }
        </QueryView>
      </div>
    </section>
  );
}
