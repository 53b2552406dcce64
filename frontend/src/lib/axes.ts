/**
 * Time axes of the dashboard's plots. Plotly picks the tick spacing (dtick) from the
 * range shown, also after a zoom; the labels of an MJD axis must then carry enough
 * decimals to tell neighbouring ticks apart (several groups of one night are minutes,
 * i.e. ~0.003 d, apart): a fixed ".2f" printed "60950.12" under every tick of a night.
 */

/** Decimals an MJD label needs when ticks are `dtick` days apart (0 for a day or more). */
export function mjdDecimals(dtick: number): number {
  if (!(dtick > 0) || dtick >= 1) return 0;
  return Math.min(8, Math.ceil(-Math.log10(dtick) - 1e-9));
}

/** Plotly `tickformatstops`: a format per range of tick spacing, so that every zoom
 * level labels its ticks distinctly (spacing in [10^-n, 10^-(n-1)) gets n decimals).
 * Plotly's ranges include both ends and the first match wins: each upper end stops
 * just short of the next range. */
export function mjdTickFormatStops(): { dtickrange: [number | null, number | null]; value: string }[] {
  const stops: { dtickrange: [number | null, number | null]; value: string }[] = [];
  for (let n = 6; n >= 1; n--) {
    stops.push({ dtickrange: [n === 6 ? null : 10 ** -n, 10 ** -(n - 1) * (1 - 1e-9)], value: `.${n}f` });
  }
  stops.push({ dtickrange: [1, null], value: ".0f" });
  return stops;
}

/** The MJD x axis of a light curve: distinct tick labels at every zoom, full
 * precision on hover. */
export function mjdAxis(title = "MJD (UTC)"): Record<string, unknown> {
  return {
    title: { text: title },
    tickformatstops: mjdTickFormatStops(),
    hoverformat: ".5f",
    exponentformat: "none",
    separatethousands: false,
  };
}
