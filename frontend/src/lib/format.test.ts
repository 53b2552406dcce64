import { describe, expect, it } from "vitest";
import {
  fmtAgo,
  fmtArcsec,
  fmtBeam,
  fmtBytes,
  fmtDec,
  fmtDuration,
  fmtIsoUtc,
  fmtJyAsMjy,
  fmtMjd,
  fmtMjdUtc,
  fmtMjy,
  fmtNoise,
  fmtRa,
  fmtSig,
  fmtUtc,
  jyToMjy,
  mjdToUnix,
  parseCoord,
  unixToMjd,
} from "./format";

describe("time conversions", () => {
  it("maps the Unix epoch to MJD 40587 and back", () => {
    expect(unixToMjd(0)).toBe(40587);
    expect(mjdToUnix(40587)).toBe(0);
  });
  it("agrees with a known date: 2000-01-01T12:00:00 UTC is MJD 51544.5", () => {
    const unix = Date.UTC(2000, 0, 1, 12) / 1000;
    expect(unixToMjd(unix)).toBeCloseTo(51544.5, 9);
    expect(fmtMjdUtc(51544.5)).toBe("2000-01-01 12:00:00");
  });
  it("round-trips to the microsecond", () => {
    const mjd = 61369.123456789;
    expect(unixToMjd(mjdToUnix(mjd))).toBeCloseTo(mjd, 9);
  });
  it("formats UTC without a time zone shift", () => {
    expect(fmtUtc(1764093577)).toBe("2025-11-25 17:59:37");
    expect(fmtUtc(1764093577, false)).toBe("2025-11-25 17:59");
    expect(fmtIsoUtc("2025-11-25T17:59:37+00:00")).toBe("2025-11-25 17:59:37");
    expect(fmtMjd(61369.762345, 3)).toBe("61369.762");
  });
  it("says how long ago", () => {
    expect(fmtAgo(1000, 1030)).toBe("30 s ago");
    expect(fmtAgo(0, 600)).toBe("10 min ago");
    expect(fmtAgo(0, 3 * 3600)).toBe("3.0 h ago");
    expect(fmtAgo(0, 3 * 86400)).toBe("3.0 d ago");
    expect(fmtAgo(100, 40)).toBe("in 60 s");
  });
  it("shows a dash for missing values", () => {
    expect(fmtUtc(null)).toBe("–");
    expect(fmtMjd(undefined)).toBe("–");
    expect(fmtMjy(Number.NaN)).toBe("–");
  });
});

describe("flux and size units", () => {
  it("converts Jy to mJy", () => {
    expect(jyToMjy(0.0123)).toBeCloseTo(12.3, 12);
    expect(fmtJyAsMjy(0.0123)).toBe("12.3 mJy");
    expect(fmtNoise(0.00079)).toBe("0.790 mJy/bm");
  });
  it("keeps significant figures", () => {
    expect(fmtSig(123.456, 3)).toBe("123");
    expect(fmtSig(0.012345, 3)).toBe("0.0123");
    expect(fmtSig(1.5e-5, 2)).toBe("1.5e-5");
    expect(fmtSig(0)).toBe("0");
  });
  it("formats beams and arcsec", () => {
    expect(fmtArcsec(36)).toBe("36.0″");
    expect(fmtBeam(36, 26, 20)).toBe("36.0″ × 26.0″ @ 20°");
    expect(fmtBeam(null, 26)).toBe("–");
  });
  it("formats durations and sizes without 60-second minutes", () => {
    expect(fmtDuration(0.25)).toBe("250 ms");
    expect(fmtDuration(12.34)).toBe("12.3 s");
    expect(fmtDuration(239.7)).toBe("4 min 00 s");
    expect(fmtDuration(187)).toBe("3 min 07 s");
    expect(fmtDuration(7199.9)).toBe("2 h 00 min");
    expect(fmtBytes(512)).toBe("512 B");
    expect(fmtBytes(503_000_000)).toBe("503.0 MB");
  });
});

describe("sexagesimal coordinates", () => {
  it("formats RA in hours and Dec in degrees", () => {
    expect(fmtRa(180)).toBe("12:00:00.00");
    expect(fmtRa(-15)).toBe("23:00:00.00");
    expect(fmtRa(359.9999999)).toBe("00:00:00.00");
    expect(fmtDec(40.5)).toBe("+40:30:00.0");
    expect(fmtDec(-0.5)).toBe("-00:30:00.0");
  });
  it("parses what it formats", () => {
    expect(parseCoord("12:00:00.00", "ra")).toBeCloseTo(180, 9);
    expect(parseCoord("-00:30:00.0", "dec")).toBeCloseTo(-0.5, 9);
    expect(parseCoord("12h34m56.7s", "ra")).toBeCloseTo((12 + 34 / 60 + 56.7 / 3600) * 15, 9);
    expect(parseCoord("188.73", "ra")).toBe(188.73);
    expect(parseCoord("not a coordinate", "dec")).toBeNull();
    expect(parseCoord("", "ra")).toBeNull();
  });
});
