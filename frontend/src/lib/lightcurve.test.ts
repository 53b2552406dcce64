import { describe, expect, it } from "vitest";
import { hasRaw, series, weightedMean } from "./lightcurve";

const pts = [
  { mjd: 1, flux_mjy: 10, error_mjy: 1 },
  { mjd: 2, flux_mjy: 20, error_mjy: 2 },
];

describe("light curve arithmetic", () => {
  it("weights by inverse variance", () => {
    // (10/1 + 20/4) / (1 + 1/4) = 12
    expect(weightedMean(pts)).toBeCloseTo(12, 12);
  });
  it("falls back to the plain mean without errors, and null when empty", () => {
    expect(weightedMean([{ mjd: 1, flux_mjy: 4, error_mjy: null }, { mjd: 2, flux_mjy: 6, error_mjy: 0 }])).toBe(5);
    expect(weightedMean([])).toBeNull();
  });
  it("gives relative flux and scaled errors", () => {
    const s = series(pts, "relative");
    expect(s.y[0]).toBeCloseTo(10 / 12, 12);
    expect(s.err[1]).toBeCloseTo(2 / 12, 12);
    expect(s.unit).toBe("F / ⟨F⟩");
  });
  it("passes normalised flux through", () => {
    expect(series(pts, "normalised")).toEqual({ y: [10, 20], err: [1, 2], unit: "mJy" });
  });
  it("uses raw fluxes only when the API sends them", () => {
    expect(hasRaw(pts)).toBe(false);
    const withRaw = [{ ...pts[0], raw_flux_mjy: 10.4, raw_error_mjy: 1.1 }, pts[1]];
    expect(hasRaw(withRaw)).toBe(true);
    expect(series(withRaw, "raw").y).toEqual([10.4, null]);
  });
});
