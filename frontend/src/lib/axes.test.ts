import { describe, expect, it } from "vitest";
import { timelineRange, mjdTicks } from "../components/Timeline";
import { mjdAxis, mjdDecimals, mjdTickFormatStops } from "./axes";

/** The stop Plotly applies for a tick spacing: the first whose [min, max] holds it. */
function formatFor(dtick: number): string {
  const stop = mjdTickFormatStops().find(
    ({ dtickrange: [lo, hi] }) => (lo === null || dtick >= lo) && (hi === null || dtick <= hi),
  );
  if (!stop) throw new Error(`no tick format for dtick ${dtick}`);
  return stop.value;
}

function label(value: number, format: string): string {
  const m = /^\.(\d)f$/.exec(format);
  if (!m) throw new Error(format);
  return value.toFixed(Number(m[1]));
}

describe("MJD tick labels", () => {
  it("are distinct for every tick spacing Plotly picks (1, 2, 5 x 10^n)", () => {
    for (let e = -6; e <= 2; e++) {
      for (const m of [1, 2, 2.5, 5]) {
        const dtick = m * 10 ** e;
        const fmt = formatFor(dtick);
        const ticks = Array.from({ length: 8 }, (_, k) => Math.ceil(60950.1234 / dtick) * dtick + k * dtick);
        const labels = ticks.map((t) => label(t, fmt));
        expect(new Set(labels).size, `dtick ${dtick} (${fmt}): ${labels.join(" ")}`).toBe(labels.length);
      }
    }
  });

  it("tell apart three groups of one night (5 min apart) zoomed onto that night", () => {
    const night = [60950.1, 60950.1 + 309 / 86400, 60950.1 + 618 / 86400];
    const dtick = 0.002; // Plotly's spacing for a ~0.01 d range
    const labels = night.map((t) => label(Math.round(t / dtick) * dtick, formatFor(dtick)));
    expect(new Set(labels).size).toBe(3);
    expect(label(60950.1036, ".2f")).toBe(label(60950.1, ".2f")); // the former fixed format
  });

  it("uses no more decimals than needed", () => {
    expect(mjdDecimals(1)).toBe(0);
    expect(mjdDecimals(0.5)).toBe(1);
    expect(mjdDecimals(0.1)).toBe(1);
    expect(mjdDecimals(0.05)).toBe(2);
    expect(mjdDecimals(0.001)).toBe(3);
    expect(formatFor(0.001)).toBe(".3f");
    expect(formatFor(20)).toBe(".0f");
    expect(mjdAxis().hoverformat).toBe(".5f");
  });
});

describe("timelineRange", () => {
  const sets = [
    { startMjd: 60950.2, endMjd: 60950.7 },
    { startMjd: 60951.2, endMjd: 60951.7 },
  ];

  it("spans the sets' own dates when now is far away (simulated or archived sets)", () => {
    const now = 61012.5; // two months later
    const { lo, hi, nowInside } = timelineRange(sets, now);
    expect(nowInside).toBe(false);
    expect(lo).toBeLessThan(60950.2);
    expect(hi).toBeGreaterThan(60951.7);
    // the sets fill the axis: each ~0.5 d set is ~30 % of it, not a 1-pixel sliver
    expect((0.5 / (hi - lo)) * 800).toBeGreaterThan(200);
    expect(mjdTicks(lo, hi).ticks.length).toBeGreaterThan(2);
  });

  it("includes now when it is near the sets", () => {
    const { lo, hi, nowInside } = timelineRange(sets, 60952.1);
    expect(nowInside).toBe(true);
    expect(hi).toBeGreaterThan(60952.1);
    expect(lo).toBeLessThan(60950.2);
  });

  it("has a range around now without sets", () => {
    const { lo, hi, nowInside } = timelineRange([], 60000);
    expect(nowInside).toBe(true);
    expect(hi - lo).toBeGreaterThan(0.9);
  });
});
