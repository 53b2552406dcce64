/**
 * Light-curve arithmetic for display: the inverse-variance weighted mean (the
 * baseline the science pages use), relative flux and its error, and the raw
 * (un-normalised) flux when the API supplies it.
 */

export interface LcPoint {
  mjd: number | null;
  flux_mjy: number;
  error_mjy: number | null;
}

/** Inverse-variance weighted mean of the points with a positive error (mJy), or the
 * plain mean when no point has one; null for an empty light curve. */
export function weightedMean(points: LcPoint[]): number | null {
  let sw = 0;
  let swf = 0;
  for (const p of points) {
    if (p.error_mjy != null && p.error_mjy > 0 && Number.isFinite(p.flux_mjy)) {
      const w = 1 / (p.error_mjy * p.error_mjy);
      sw += w;
      swf += w * p.flux_mjy;
    }
  }
  if (sw > 0) return swf / sw;
  const good = points.filter((p) => Number.isFinite(p.flux_mjy));
  return good.length ? good.reduce((a, p) => a + p.flux_mjy, 0) / good.length : null;
}

export type LcMode = "normalised" | "relative" | "raw";

/** The raw flux of a light-curve point, if the API sent one (`raw_flux_mjy`). */
export function rawFlux(p: object): { flux: number; error: number | null } | null {
  const r = p as { raw_flux_mjy?: unknown; raw_error_mjy?: unknown };
  if (typeof r.raw_flux_mjy !== "number") return null;
  return { flux: r.raw_flux_mjy, error: typeof r.raw_error_mjy === "number" ? r.raw_error_mjy : null };
}

export function hasRaw(points: object[]): boolean {
  return points.length > 0 && points.some((p) => rawFlux(p) !== null);
}

/** y values and errors for a display mode. Relative: flux / weighted mean, error
 * scaled the same way (the mean's own error is negligible for a long light curve). */
export function series(points: LcPoint[], mode: LcMode): { y: (number | null)[]; err: (number | null)[]; unit: string } {
  if (mode === "raw") {
    const r = points.map((p) => rawFlux(p));
    return { y: r.map((v) => (v ? v.flux : null)), err: r.map((v) => (v ? v.error : null)), unit: "mJy (raw)" };
  }
  if (mode === "relative") {
    const mu = weightedMean(points);
    if (!mu) return { y: points.map(() => null), err: points.map(() => null), unit: "F / ⟨F⟩" };
    return {
      y: points.map((p) => p.flux_mjy / mu),
      err: points.map((p) => (p.error_mjy == null ? null : p.error_mjy / Math.abs(mu))),
      unit: "F / ⟨F⟩",
    };
  }
  return { y: points.map((p) => p.flux_mjy), err: points.map((p) => p.error_mjy), unit: "mJy" };
}
