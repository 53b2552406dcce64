import { fmtAgo, fmtMjd, fmtMjdUtc, fmtUtc, mjdToUnix, unixToMjd } from "../lib/format";

/** A moment shown as UTC and MJD side by side. Give `unix` (s) or `mjd`. */
export function Time({
  unix,
  mjd,
  ago = false,
  seconds = false,
  mjdDigits = 5,
}: {
  unix?: number | null;
  mjd?: number | null;
  ago?: boolean;
  seconds?: boolean;
  mjdDigits?: number;
}) {
  const u = unix ?? (mjd != null ? mjdToUnix(mjd) : null);
  const m = mjd ?? (unix != null ? unixToMjd(unix) : null);
  if (u == null || m == null) return <span className="muted">–</span>;
  return (
    <span className="time" title={`${fmtUtc(u)} UTC · MJD ${fmtMjd(m, 6)} · ${fmtAgo(u)}`}>
      <span className="utc">{mjd != null && unix == null ? fmtMjdUtc(mjd, seconds) : fmtUtc(u, seconds)}</span>
      <span className="mjd">{fmtMjd(m, mjdDigits)}</span>
      {ago && <span className="ago">{fmtAgo(u)}</span>}
    </span>
  );
}
