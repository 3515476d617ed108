// Draws one saved-layout widget: asks /api/v1/analytics for its measures by its dimensions (the
// page's date range and filters, plus the widget's own filters) and shows tiles, a chart (the
// dashboard's ECharts chunk) or a table. Kept small and replaceable: when the pages' widget module
// draws every chart type, a widget can be handed to it instead.
import type { PageContext } from "./analytics";
import { formatMeasure, measureLabel } from "./format";
import type { LayoutWidget } from "./layout";
import { dataTable, type Row } from "./table";

interface Answer {
  rows: Row[];
  totals: Record<string, number | null>;
}

export function widgetUrl(widget: LayoutWidget, context: PageContext): string {
  const params = new URLSearchParams({ measures: widget.measures.join(","), start: context.start, end: context.end });
  if (widget.group_by.length) params.set("group_by", widget.group_by.join(","));
  const filters = { ...context.filters, ...(widget.filters ?? {}) };
  for (const [name, values] of Object.entries(filters)) {
    for (const value of values) params.append(name, value);
  }
  return `/api/v1/analytics?${params.toString()}`;
}

function note(text: string): HTMLElement {
  const p = document.createElement("p");
  p.className = "widget-message-title";
  p.textContent = text;
  return p;
}

function tiles(widget: LayoutWidget, answer: Answer): HTMLElement {
  const list = document.createElement("dl");
  list.className = "kpis";
  for (const measure of widget.measures) {
    const tile = document.createElement("div");
    tile.className = "kpi";
    const name = document.createElement("dt");
    name.textContent = measureLabel(measure);
    const value = document.createElement("dd");
    value.className = "kpi-value";
    value.textContent = formatMeasure(measure, answer.totals[measure] ?? null);
    tile.append(name, value);
    list.appendChild(tile);
  }
  return list;
}

async function chart(widget: LayoutWidget, answer: Answer): Promise<HTMLElement> {
  const canvas = document.createElement("div");
  canvas.className = "chart";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${widget.title}: chart`);
  const { drawChart } = await import("./charts");
  // Pies are drawn as bars until the chart module draws them.
  const kind = widget.chart === "line" ? "timeseries" : "bar";
  requestAnimationFrame(() => drawChart(canvas, { kind, title: widget.title, measures: widget.measures,
                                                  groupBy: widget.group_by, stack: widget.chart === "stacked_bar" },
                                        answer.rows));
  return canvas;
}

export async function renderWidget(body: HTMLElement, widget: LayoutWidget, context: PageContext,
                                   fetcher: typeof fetch = fetch): Promise<void> {
  body.parentElement?.setAttribute("data-state", "loading");
  let state = "ready";
  try {
    const response = await fetcher(widgetUrl(widget, context), { credentials: "same-origin",
                                                                 headers: { accept: "application/json" } });
    const answer = await response.json() as Answer & { error?: { message: string } };
    if (!response.ok) throw new Error(answer.error?.message ?? `HTTP ${response.status}`);
    if (widget.chart !== "tiles" && answer.rows.length === 0) {
      state = "empty";
      body.replaceChildren(note("Nothing for these filters"));
    } else if (widget.chart === "tiles") {
      body.replaceChildren(tiles(widget, answer));
    } else if (widget.chart === "table") {
      body.replaceChildren(dataTable(widget.title, widget.group_by, widget.measures, answer.rows));
    } else {
      body.replaceChildren(await chart(widget, answer));
    }
  } catch (error) {
    state = "error";
    body.replaceChildren(note(`Could not load this widget: ${(error as Error).message}`));
  }
  body.parentElement?.setAttribute("data-state", state);
}
