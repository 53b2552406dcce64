/**
 * Formatters and unit conversions. One place, so every page shows the same units:
 * flux in mJy, sizes in arcsec, times as UTC and MJD side by side.
 *
 * Conventions: Unix timestamps are seconds (UTC); MJD is UTC-based (no TT offset),
 * as the pipeline stores it.
 */

/** MJD of the Unix epoch 1970-01-01T00:00:00 UTC. */
export const MJD_UNIX_EPOCH = 40587;
const DAY_S = 86400;

export const unixToMjd = (unixS: number): number => unixS / DAY_S + MJD_UNIX_EPOCH;
export const mjdToUnix = (mjd: number): number => (mjd - MJD_UNIX_EPOCH) * DAY_S;

const DASH = "–";

function isNum(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

/** "2026-11-25 17:59:37" (UTC) from a Unix timestamp in seconds. */
export function fmtUtc(unixS: number | null | undefined, withSeconds = true): string {
  if (!isNum(unixS)) return DASH;
  const iso = new Date(unixS * 1000).toISOString();
  return iso.slice(0, withSeconds ? 19 : 16).replace("T", " ");
}

/** UTC string from an ISO 8601 string (as the API sends datetimes). */
export function fmtIsoUtc(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : fmtUtc(t / 1000);
}

/** Unix seconds from an ISO 8601 string, or null. */
export function isoToUnix(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t / 1000;
}

/** MJD with a fixed number of decimals (5 decimals ~ 0.9 s). */
export function fmtMjd(mjd: number | null | undefined, digits = 5): string {
  return isNum(mjd) ? mjd.toFixed(digits) : DASH;
}

/** UTC of an MJD. */
export function fmtMjdUtc(mjd: number | null | undefined, withSeconds = true): string {
  return isNum(mjd) ? fmtUtc(mjdToUnix(mjd), withSeconds) : DASH;
}

/** Relative age like "42 s ago", "5 min ago", "3.2 h ago", "2.0 d ago". */
export function fmtAgo(unixS: number | null | undefined, nowS: number = Date.now() / 1000): string {
  if (!isNum(unixS)) return DASH;
  const d = nowS - unixS;
  const future = d < 0;
  const a = Math.abs(d);
  let s: string;
  if (a < 90) s = `${Math.round(a)} s`;
  else if (a < 5400) s = `${Math.round(a / 60)} min`;
  else if (a < 2 * DAY_S) s = `${(a / 3600).toFixed(1)} h`;
  else s = `${(a / DAY_S).toFixed(1)} d`;
  return future ? `in ${s}` : `${s} ago`;
}

/** A number with `sig` significant figures, without exponent for everyday magnitudes. */
export function fmtSig(x: number | null | undefined, sig = 3): string {
  if (!isNum(x)) return DASH;
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(sig - 1);
  const digits = Math.max(0, sig - 1 - Math.floor(Math.log10(a)));
  return x.toFixed(Math.min(digits, 6));
}

/** Fixed decimals. */
export function fmtFixed(x: number | null | undefined, digits = 2): string {
  return isNum(x) ? x.toFixed(digits) : DASH;
}

export const jyToMjy = (jy: number): number => jy * 1000;
export const mjyToJy = (mjy: number): number => mjy / 1000;

/** Flux density given in mJy, e.g. "12.3 mJy". */
export function fmtMjy(mjy: number | null | undefined, sig = 3): string {
  return isNum(mjy) ? `${fmtSig(mjy, sig)} mJy` : DASH;
}

/** Flux density given in Jy, shown in mJy. */
export function fmtJyAsMjy(jy: number | null | undefined, sig = 3): string {
  return isNum(jy) ? fmtMjy(jyToMjy(jy), sig) : DASH;
}

/** Image noise given in Jy/beam, shown in mJy/beam. */
export function fmtNoise(jy: number | null | undefined): string {
  return isNum(jy) ? `${fmtSig(jyToMjy(jy), 3)} mJy/bm` : DASH;
}

export function fmtArcsec(arcsec: number | null | undefined, digits = 1): string {
  return isNum(arcsec) ? `${arcsec.toFixed(digits)}″` : DASH;
}

export function fmtDeg(deg: number | null | undefined, digits = 4): string {
  return isNum(deg) ? `${deg.toFixed(digits)}°` : DASH;
}

/** Restoring beam "major × minor″ @ PA°". */
export function fmtBeam(
  majArcsec: number | null | undefined,
  minArcsec: number | null | undefined,
  paDeg?: number | null,
): string {
  if (!isNum(majArcsec) || !isNum(minArcsec)) return DASH;
  const pa = isNum(paDeg) ? ` @ ${paDeg.toFixed(0)}°` : "";
  return `${majArcsec.toFixed(1)}″ × ${minArcsec.toFixed(1)}″${pa}`;
}

function pad(n: number, width: number, digits = 0): string {
  const s = n.toFixed(digits);
  const [i, f] = s.split(".");
  return f === undefined ? i.padStart(width, "0") : `${i.padStart(width, "0")}.${f}`;
}

/** Right ascension in degrees as "hh:mm:ss.ss". */
export function fmtRa(raDeg: number | null | undefined): string {
  if (!isNum(raDeg)) return DASH;
  let totalS = ((((raDeg % 360) + 360) % 360) / 15) * 3600;
  totalS = Math.round(totalS * 100) / 100;
  if (totalS >= 86400) totalS -= 86400;
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS - h * 3600) / 60);
  const s = totalS - h * 3600 - m * 60;
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2, 2)}`;
}

/** Declination in degrees as "+dd:mm:ss.s". */
export function fmtDec(decDeg: number | null | undefined): string {
  if (!isNum(decDeg)) return DASH;
  const sign = decDeg < 0 ? "-" : "+";
  let totalS = Math.round(Math.abs(decDeg) * 36000) / 10; // arcsec, 0.1 precision
  const d = Math.floor(totalS / 3600);
  totalS -= d * 3600;
  const m = Math.floor(totalS / 60);
  const s = totalS - m * 60;
  return `${sign}${pad(d, 2)}:${pad(m, 2)}:${pad(s, 2, 1)}`;
}

/** Duration in seconds as "850 ms", "12.3 s", "4 min 05 s", "2 h 10 min". */
export function fmtDuration(s: number | null | undefined): string {
  if (!isNum(s)) return DASH;
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 59.95) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  if (whole < 3600) {
    const m = Math.floor(whole / 60);
    return `${m} min ${pad(whole - m * 60, 2)} s`;
  }
  const minutes = Math.round(s / 60);
  const h = Math.floor(minutes / 60);
  return `${h} h ${pad(minutes - h * 60, 2)} min`;
}

/** File size in bytes as "512 B", "3.4 MB". */
export function fmtBytes(b: number | null | undefined): string {
  if (!isNum(b)) return DASH;
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = b;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Parse a sexagesimal or decimal coordinate ("12:34:56.7" or "188.73"). RA in hours
 * when sexagesimal, always returned in degrees. Null when not parseable. */
export function parseCoord(text: string, kind: "ra" | "dec"): number | null {
  const t = text.trim();
  if (t === "") return null;
  if (/^[+-]?\d+(\.\d*)?$/.test(t)) return Number(t);
  const m = t.match(/^([+-]?)(\d+)[:\sh°d]+(\d+)[:\sm′']+(\d+(?:\.\d*)?)[s″"]?$/);
  if (!m) return null;
  const sign = m[1] === "-" ? -1 : 1;
  const v = Number(m[2]) + Number(m[3]) / 60 + Number(m[4]) / 3600;
  return kind === "ra" ? v * 15 : sign * v;
}
