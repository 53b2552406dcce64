import { Link } from "react-router-dom";
import { mosaicThumbUrl, useMosaics } from "../data/queries";
import type { RecentMosaic } from "../data/types";
import { ApiImage, Empty, QueryView } from "../components/Async";
import { Pager } from "../components/DataTable";
import { fmtFixed, fmtMjd, fmtMjdUtc, fmtSig } from "../lib/format";
import { useUrlState } from "../lib/params";

const LIMIT = 24;

function Card({ m }: { m: RecentMosaic }) {
  return (
    <Link to={`/mosaics/${m.id}`} className="card" data-testid="mosaic-card">
      <div className="thumb">
        <ApiImage src={mosaicThumbUrl(m.id)} alt={`Thumbnail of mosaic ${m.name}`} />
      </div>
      <div className="body">
        <div className="title">{m.name}</div>
        <div>
          {fmtMjdUtc(m.start_mjd, false)} → {fmtMjdUtc(m.end_mjd, false).slice(11)} UTC
        </div>
        <div className="muted">
          MJD {fmtMjd(m.start_mjd, 3)}–{fmtMjd(m.end_mjd, 3)}
        </div>
        <div>
          {fmtFixed(m.hours, 2)} h · {m.n_images ?? "–"} images · {m.n_sources ?? "–"} sources
        </div>
        <div>
          rms <strong>{fmtSig(m.noise_mjy, 3)}</strong> mJy/beam
        </div>
      </div>
    </Link>
  );
}

export function MosaicsPage() {
  const { num, set } = useUrlState();
  const offset = num("offset") ?? 0;
  const q = useMosaics({ limit: LIMIT, offset });
  return (
    <section className="page">
      <div className="page-head">
        <h1>Mosaics</h1>
        <span className="sub">Deep images over time windows, newest first</span>
      </div>
      <QueryView q={q} lines={6}>
        {(page) =>
          page.data.length ? (
            <>
              <div className="gallery" data-testid="mosaic-gallery">
                {page.data.map((m) => (
                  <Card key={m.id} m={m} />
                ))}
              </div>
              <Pager count={page.count} limit={LIMIT} offset={offset} onOffset={(o) => set({ offset: o }, false)} />
            </>
          ) : (
            <div className="panel">
              <Empty>No mosaics yet.</Empty>
            </div>
          )
        }
      </QueryView>
    </section>
  );
}
