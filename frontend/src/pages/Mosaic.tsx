import { Link, useParams } from "react-router-dom";
import { mosaicFitsUrl, mosaicThumbUrl, useMosaic } from "../data/queries";
import { ApiImage, QueryView } from "../components/Async";
import { Time } from "../components/Time";
import { fmtBeam, fmtDec, fmtDeg, fmtDuration, fmtFixed, fmtNoise, fmtRa } from "../lib/format";

export function MosaicPage() {
  const { mosaicId = "" } = useParams();
  const q = useMosaic(Number(mosaicId));
  return (
    <section className="page">
      <div className="crumbs">
        <Link to="/mosaics">Mosaics</Link> /
      </div>
      <QueryView q={q} lines={8}>
        {(m) => (
          <>
            <div className="page-head">
              <h1>{m.name}</h1>
              <span className="sub">#{m.id}</span>
              <div className="actions">
                <a className="btn small" href={mosaicFitsUrl(m.id)} download>
                  Download FITS
                </a>
              </div>
            </div>
            <div className="grid">
              <div className="panel span-7">
                <h2>Image</h2>
                <div className="preview">
                  <ApiImage src={mosaicThumbUrl(m.id)} alt={`Mosaic ${m.name}`} testId="mosaic-image" />
                </div>
                <p className="figure-note">Thumbnail (at most 512 px), asinh stretch; download the FITS for science.</p>
              </div>
              <div className="panel span-5">
                <h2>Metadata</h2>
                <table className="kv" data-testid="mosaic-meta">
                  <tbody>
                    <tr><th>Start</th><td><Time mjd={m.start_mjd} seconds /></td></tr>
                    <tr><th>End</th><td><Time mjd={m.end_mjd} seconds /></td></tr>
                    <tr><th>Span</th><td>{fmtDuration((m.end_mjd - m.start_mjd) * 86400)}</td></tr>
                    <tr><th>Integration</th><td>{m.integration_sec == null ? "–" : `${fmtFixed(m.integration_sec / 3600, 2)} h (${fmtFixed(m.integration_sec, 0)} s)`}</td></tr>
                    <tr><th>Input images</th><td>{m.n_images ?? "–"}</td></tr>
                    <tr><th>Sources</th><td>{m.n_sources ?? "–"}</td></tr>
                    <tr><th>Centre</th><td>{fmtRa(m.center_ra_deg)} {fmtDec(m.center_dec_deg)} <span className="muted">({fmtDeg(m.center_ra_deg, 4)}, {fmtDeg(m.center_dec_deg, 4)})</span></td></tr>
                    <tr><th>Dec coverage</th><td>{fmtDeg(m.dec_min_deg, 3)} to {fmtDeg(m.dec_max_deg, 3)}</td></tr>
                    <tr><th>rms noise</th><td>{fmtNoise(m.noise_jy)}</td></tr>
                    <tr><th>Beam</th><td>{fmtBeam(m.beam_major_arcsec, m.beam_minor_arcsec, m.beam_pa_deg)}</td></tr>
                    <tr><th>Created</th><td><Time unix={m.created_at} ago /></td></tr>
                    <tr><th>File</th><td className="path">{m.path}</td></tr>
                  </tbody>
                </table>
              </div>
            </div>
          </>
        )}
      </QueryView>
    </section>
  );
}
