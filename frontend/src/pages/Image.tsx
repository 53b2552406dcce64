import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { imageFitsUrl, imagePreviewUrl, useImage } from "../data/queries";
import type { ImageDetail, ImageRow } from "../data/types";
import { QueryView } from "../components/Async";
import { Badge } from "../components/Badge";
import { Time } from "../components/Time";
import { fmtArcsec, fmtDec, fmtDeg, fmtFixed, fmtNoise, fmtRa } from "../lib/format";

/** The image's header values, as recorded in the images table, with their FITS keywords. */
function headerRows(i: ImageRow): [string, string, string][] {
  const freqHz = i.freq_ghz == null ? null : i.freq_ghz * 1e9;
  return [
    ["NAXIS1 × NAXIS2", "image size", i.imsize_x ? `${i.imsize_x} × ${i.imsize_y} px` : "–"],
    ["CDELT", "cell size", fmtArcsec(i.cellsize_arcsec, 2)],
    ["CRVAL1", "centre RA", `${fmtRa(i.center_ra_deg)}  (${fmtDeg(i.center_ra_deg, 5)})`],
    ["CRVAL2", "centre Dec", `${fmtDec(i.center_dec_deg)}  (${fmtDeg(i.center_dec_deg, 5)})`],
    ["BMAJ", "beam major", fmtArcsec(i.beam_major_arcsec, 2)],
    ["BMIN", "beam minor", fmtArcsec(i.beam_minor_arcsec, 2)],
    ["BPA", "beam PA (E of N)", i.beam_pa_deg == null ? "–" : `${i.beam_pa_deg.toFixed(1)}°`],
    ["CRVAL3", "frequency", freqHz == null ? "–" : `${fmtFixed(i.freq_ghz, 5)} GHz`],
    ["CDELT3", "bandwidth", i.bandwidth_mhz == null ? "–" : `${fmtFixed(i.bandwidth_mhz, 2)} MHz`],
    ["", "integration", i.integration_sec == null ? "–" : `${fmtFixed(i.integration_sec, 1)} s`],
    ["", "rms noise", fmtNoise(i.noise_jy)],
    ["", "dynamic range", fmtFixed(i.dynamic_range, 0)],
    ["", "primary-beam corrected", i.pbcor ? "yes" : "no"],
    ["", "format", i.format ?? "fits"],
  ];
}

function QcPanel({ qc }: { qc: NonNullable<ImageDetail["qc"]> }) {
  const rejected = qc.status === "rejected";
  return (
    <div className={`panel${rejected ? " error-box" : ""}`} data-testid="image-qc">
      <h2>Quality control: {rejected ? "rejected" : "accepted"}</h2>
      {rejected ? (
        <>
          <p>
            This image's photometry is kept (flag QC_REJECTED) but never used in baselines, normalisation, light-curve statistics or ESE rules.
          </p>
          <ul data-testid="qc-reasons">
            {(qc.reasons ?? []).map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
        </>
      ) : (
        <p className="small muted">Its measurements enter the light curves.</p>
      )}
      <p className="small muted">
        robust noise (central region) {fmtNoise(qc.noise_jy)} · beam {fmtArcsec(qc.beam_major_arcsec, 1)} × {fmtArcsec(qc.beam_minor_arcsec, 1)} · blanked{" "}
        {qc.blanked_fraction == null ? "–" : `${(100 * qc.blanked_fraction).toFixed(2)} %`} · flux-scale correction {fmtFixed(qc.norm_factor, 4)}
      </p>
    </div>
  );
}

export function ImagePage() {
  const { imageId = "" } = useParams();
  const id = Number(imageId);
  const q = useImage(id);
  const [overlay, setOverlay] = useState(false);
  const [imgError, setImgError] = useState(false);
  const [loaded, setLoaded] = useState(false);
  return (
    <section className="page">
      <div className="crumbs">
        <Link to="/images">Images</Link> /
      </div>
      <QueryView q={q} lines={10}>
        {(d) => {
          const i = d.image;
          return (
            <>
              <div className="page-head">
                <h1>
                  {i.field_name ?? "Image"} <span className="muted">#{i.id}</span>
                </h1>
                <Badge tone="neutral">{i.type}</Badge>
                {d.qc?.status === "rejected" && <Badge tone="bad">rejected by quality control</Badge>}
                <span className="sub">
                  <Time unix={i.created_at} />
                </span>
                <div className="actions">
                  {d.file_available && (
                    <a className="btn small" href={imageFitsUrl(i.id)} download>
                      Download FITS
                    </a>
                  )}
                </div>
              </div>
              {d.qc && <QcPanel qc={d.qc} />}
              <div className="grid">
                <div className="panel span-7">
                  <div className="panel-head">
                    <h2>Preview</h2>
                    <label className="row small more">
                      <input
                        type="checkbox"
                        checked={overlay}
                        data-testid="overlay-toggle"
                        onChange={(e) => {
                          setOverlay(e.target.checked);
                          setLoaded(false);
                          setImgError(false);
                        }}
                      />
                      catalog overlay
                    </label>
                  </div>
                  {d.file_available ? (
                    <div className="preview">
                      {imgError ? (
                        <div className="error-box" role="alert">
                          <strong>Preview failed</strong>
                          <span className="error-detail">The server could not render {i.path} (see its log).</span>
                          <button type="button" className="btn small" onClick={() => setImgError(false)}>
                            Retry
                          </button>
                        </div>
                      ) : (
                        <img
                          key={String(overlay)}
                          src={imagePreviewUrl(i.id, overlay)}
                          alt={`Preview of image ${i.id}${overlay ? " with catalog sources circled" : ""}`}
                          data-testid="image-preview"
                          data-loaded={loaded}
                          onLoad={() => setLoaded(true)}
                          onError={() => setImgError(true)}
                        />
                      )}
                    </div>
                  ) : (
                    <div className="empty" role="alert" data-testid="file-missing">
                      <strong>file missing</strong>: {i.path} is not in the product directories (deleted or moved).
                    </div>
                  )}
                  <p className="figure-note">
                    asinh stretch between the 0.5 and 99.8 percentiles; north up, east left.
                    {overlay && " Circles: master-catalog sources in the field."}
                  </p>
                </div>
                <div className="panel span-5">
                  <h2>Header values</h2>
                  <table className="kv" data-testid="image-header">
                    <tbody>
                      {headerRows(i).map(([kw, label, v]) => (
                        <tr key={label}>
                          <th>
                            {label}
                            {kw && <span className="muted mono small"> {kw}</span>}
                          </th>
                          <td>{v}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                  <h3>Provenance</h3>
                  <table className="kv">
                    <tbody>
                      <tr><th>File</th><td className="path">{i.path}</td></tr>
                      <tr><th>Measurement Set</th><td className="path">{i.ms_path}</td></tr>
                      <tr><th>Photometry rows</th><td>{d.n_photometry}</td></tr>
                    </tbody>
                  </table>
                </div>
              </div>
            </>
          );
        }}
      </QueryView>
    </section>
  );
}
