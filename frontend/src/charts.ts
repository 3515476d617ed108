// ECharts, tree-shaken: only the core, the chart types and components used, and the canvas
// renderer are bundled (a separate chunk, loaded by widgets that have data to draw).
import { BarChart, LineChart } from "echarts/charts";
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { formatMeasure, measureLabel } from "./format";
import type { Row } from "./table";
import type { WidgetSpec } from "./widgets";

echarts.use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, AriaComponent, CanvasRenderer]);

/** A theme colour as the browser resolves it (the variables use light-dark(), which only an
 * element's computed colour turns into a value ECharts can paint). */
function cssVar(name: string): string {
  const probe = document.createElement("span");
  probe.style.color = `var(${name})`;
  probe.hidden = true;
  document.body.appendChild(probe);
  const color = getComputedStyle(probe).color;
  probe.remove();
  return color;
}

const TIME = new Set(["hour", "day", "week", "month"]);
const PALETTE = ["--chart-1", "--chart-2", "--chart-3", "--chart-4", "--chart-5", "--chart-6"];

export interface Series {
  name: string;
  data: (number | null)[];
}

/** Categories (x values) and series: one per measure, or, with a second dimension (cost by day
 * and model), one per value of it (largest total first) for the first measure. */
export function seriesOf(spec: WidgetSpec, rows: Row[]): { categories: string[]; series: Series[] } {
  const [dimension = "day", split] = spec.groupBy;
  const categories = [...new Set(rows.map((row) => String(row[dimension] ?? "—")))];
  if (!split) {
    return { categories, series: spec.measures.map((measure) => ({
      name: measureLabel(measure), data: rows.map((row) => (typeof row[measure] === "number" ? row[measure] as number : null)) })) };
  }
  const measure = spec.measures[0] ?? "";
  const cells = new Map<string, Map<string, number>>();
  const totals = new Map<string, number>();
  for (const row of rows) {
    const name = String(row[split] ?? "other");
    const value = typeof row[measure] === "number" ? row[measure] as number : 0;
    if (!cells.has(name)) cells.set(name, new Map());
    const line = cells.get(name)!;
    const at = String(row[dimension] ?? "—");
    line.set(at, (line.get(at) ?? 0) + value);
    totals.set(name, (totals.get(name) ?? 0) + value);
  }
  const names = [...totals.keys()].filter((name) => totals.get(name) !== 0).sort((a, b) => totals.get(b)! - totals.get(a)!);
  return { categories, series: names.map((name) => ({ name, data: categories.map((at) => cells.get(name)!.get(at) ?? 0) })) };
}

function option(spec: WidgetSpec, rows: Row[]): echarts.EChartsCoreOption {
  const dimension = spec.groupBy[0] ?? "day";
  const text = cssVar("--fg-muted");
  const grid = cssVar("--border");
  const measure = spec.measures[0] ?? "";
  const counts = spec.measures.every((m) => m !== "cost_usd" && !m.endsWith("_ratio") && !m.endsWith("_rate"));
  const { categories, series } = seriesOf(spec, rows);
  // Names (tools, agents, teams) read best as horizontal bars, largest at the top.
  const horizontal = spec.kind === "bar" && !TIME.has(dimension);
  const bars = spec.kind === "bar" || spec.stack === true;
  const format = (value: number) => formatMeasure(measure, value);
  const categoryAxis = { type: "category", data: categories, inverse: horizontal, axisLine: { lineStyle: { color: grid } },
                         axisLabel: { color: text, hideOverlap: true, width: horizontal ? 140 : undefined,
                                      overflow: horizontal ? "truncate" : undefined } };
  const valueAxis = { type: "value", minInterval: counts ? 1 : 0, splitLine: { lineStyle: { color: grid } },
                      axisLabel: { color: text, hideOverlap: true, formatter: format } };
  return {
    color: PALETTE.map(cssVar),
    aria: { enabled: true },
    textStyle: { color: text, fontFamily: "inherit" },
    grid: { left: 8, right: 16, top: series.length > 1 ? 36 : 12, bottom: 8, containLabel: true },
    legend: { show: series.length > 1, type: "scroll", top: 0, left: 0, textStyle: { color: text },
              pageTextStyle: { color: text } },
    tooltip: { trigger: "axis", axisPointer: { type: bars ? "shadow" : "line" },
               valueFormatter: (value: unknown) => formatMeasure(measure, Number(value)) },
    xAxis: horizontal ? valueAxis : categoryAxis,
    yAxis: horizontal ? categoryAxis : valueAxis,
    series: series.map((line) => ({
      name: line.name, type: bars ? "bar" : "line", smooth: false, showSymbol: false, data: line.data,
      stack: spec.stack ? "total" : undefined, barMaxWidth: 28, emphasis: { focus: "series" },
    })),
  };
}

/** Draws and keeps the chart sized and themed; returns its clean-up (a redraw replaces it). */
export function drawChart(element: HTMLElement, spec: WidgetSpec, rows: Row[]): () => void {
  const chart = echarts.init(element, undefined, { renderer: "canvas" });
  const draw = () => chart.setOption(option(spec, rows), true);
  draw();
  const resize = new ResizeObserver(() => chart.resize());
  resize.observe(element);
  const scheme = window.matchMedia("(prefers-color-scheme: dark)");
  document.documentElement.addEventListener("fm:theme", draw);
  scheme.addEventListener("change", draw);
  return () => {
    resize.disconnect();
    document.documentElement.removeEventListener("fm:theme", draw);
    scheme.removeEventListener("change", draw);
    chart.dispose();
  };
}
