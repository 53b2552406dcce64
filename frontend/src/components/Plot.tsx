/**
 * A Plotly figure, with plotly.js-basic loaded lazily (one 1.2 MB chunk that only
 * pages with plots fetch). Plotly gives error bars, log axes, box zoom, pan and
 * hover out of the box, and draws SVG points that tests can count.
 */
import { useEffect, useRef, useState } from "react";

// Minimal typings of the parts of Plotly we use.
export type PlotData = Record<string, unknown>;
export type PlotLayout = Record<string, unknown>;
interface PlotlyApi {
  react(el: HTMLElement, data: PlotData[], layout: PlotLayout, config: Record<string, unknown>): Promise<unknown>;
  purge(el: HTMLElement): void;
  Plots: { resize(el: HTMLElement): void };
}
interface PlotlyEl extends HTMLDivElement {
  on?(event: string, fn: (e: { points: { customdata?: unknown; pointIndex: number; curveNumber: number }[] }) => void): void;
  removeAllListeners?(event: string): void;
}

let plotlyPromise: Promise<PlotlyApi> | null = null;
function loadPlotly(): Promise<PlotlyApi> {
  plotlyPromise ??= import("plotly.js-basic-dist-min").then((m) => (m.default ?? m) as PlotlyApi);
  return plotlyPromise;
}

const BASE_LAYOUT: PlotLayout = {
  margin: { l: 60, r: 16, t: 10, b: 46 },
  font: { family: "inherit", size: 12, color: "#2c3a47" },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "#fbfcfd",
  hoverlabel: { font: { family: "ui-monospace, monospace", size: 12 } },
  showlegend: true,
  legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 1, xanchor: "right" },
};

export function Plot({
  data,
  layout,
  height = 320,
  onPointClick,
  testId,
}: {
  data: PlotData[];
  layout: PlotLayout;
  height?: number;
  onPointClick?: (customdata: unknown) => void;
  testId?: string;
}) {
  const ref = useRef<PlotlyEl>(null);
  const [error, setError] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  const clickRef = useRef(onPointClick);
  clickRef.current = onPointClick;

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let cancelled = false;
    loadPlotly()
      .then((P) => {
        if (cancelled) return;
        const merged = {
          ...BASE_LAYOUT,
          ...layout,
          height,
          xaxis: { gridcolor: "#e6eaee", zeroline: false, ...(layout.xaxis as object) },
          yaxis: { gridcolor: "#e6eaee", zeroline: false, ...(layout.yaxis as object) },
        };
        return P.react(el, data, merged, {
          responsive: true,
          displaylogo: false,
          modeBarButtonsToRemove: ["select2d", "lasso2d", "toImage"],
        }).then(() => {
          if (cancelled) return;
          el.removeAllListeners?.("plotly_click");
          el.on?.("plotly_click", (e) => {
            const pt = e.points[0];
            if (pt && clickRef.current) clickRef.current(pt.customdata);
          });
          setReady(true);
        });
      })
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
    return () => {
      cancelled = true;
    };
  }, [data, layout, height]);

  useEffect(() => {
    const el = ref.current;
    return () => {
      if (el && plotlyPromise) void plotlyPromise.then((P) => P.purge(el));
    };
  }, []);

  if (error) return <div className="error-box">Plot failed: {error}</div>;
  return (
    <div className="plot-wrap" style={{ minHeight: height }} data-testid={testId} data-ready={ready}>
      <div ref={ref} className="plot" />
    </div>
  );
}
