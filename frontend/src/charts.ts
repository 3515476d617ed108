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

function option(spec: WidgetSpec, rows: Row[]): echarts.EChartsCoreOption {
  const dimension = spec.groupBy[0] ?? "day";
  const text = cssVar("--fg-muted");
  const grid = cssVar("--border");
  const counts = spec.measures.every((measure) => measure !== "cost_usd" && !measure.endsWith("_ratio") &&
                                                  !measure.endsWith("_rate"));
  const palette = [cssVar("--chart-1"), cssVar("--chart-2"), cssVar("--chart-3"), cssVar("--chart-4")];
  return {
    color: palette,
    aria: { enabled: true },
    textStyle: { color: text, fontFamily: "inherit" },
    grid: { left: 8, right: 16, top: spec.measures.length > 1 ? 32 : 12, bottom: 8, containLabel: true },
    legend: { show: spec.measures.length > 1, top: 0, left: 0, textStyle: { color: text } },
    tooltip: { trigger: "axis", valueFormatter: (value: unknown) => formatMeasure(spec.measures[0] ?? "", Number(value)) },
    xAxis: { type: "category", data: rows.map((row) => String(row[dimension] ?? "—")),
             axisLine: { lineStyle: { color: grid } }, axisLabel: { color: text } },
    yAxis: { type: "value", minInterval: counts ? 1 : 0, splitLine: { lineStyle: { color: grid } }, axisLabel: { color: text,
             formatter: (value: number) => formatMeasure(spec.measures[0] ?? "", value) } },
    series: spec.measures.map((measure) => ({
      name: measureLabel(measure), type: spec.kind === "bar" ? "bar" : "line", smooth: false, showSymbol: false,
      data: rows.map((row) => row[measure] ?? null),
    })),
  };
}

export function drawChart(element: HTMLElement, spec: WidgetSpec, rows: Row[]): void {
  const chart = echarts.init(element, undefined, { renderer: "canvas" });
  const draw = () => chart.setOption(option(spec, rows), true);
  draw();
  new ResizeObserver(() => chart.resize()).observe(element);
  document.documentElement.addEventListener("fm:theme", draw);
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", draw);
}
