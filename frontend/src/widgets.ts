// Widget slots the server renders (data-widget="kpi|timeseries|bar|table|peer", data-measures,
// data-group-by; data-stack to stack a chart's series, data-top for the largest few rows,
// data-peer-team for the team a person is compared with).
// Each asks the analytics service for its numbers and shows one clear state: loading, no data
// yet (service not there), nothing for these filters, an error with a retry, or the result. Charts
// (ECharts, a separate chunk) load only when a chart has data to draw.
import { AnalyticsUnavailable, fetchAnalytics, type AnalyticsAnswer, type PageContext } from "./analytics";
import { change, changeTone, formatChange, formatMeasure, measureLabel } from "./format";
import { dataTable, type Row } from "./table";

export type WidgetKind = "kpi" | "timeseries" | "bar" | "table" | "peer";
const KINDS: readonly string[] = ["kpi", "timeseries", "bar", "table", "peer"];

export interface WidgetSpec {
  kind: WidgetKind;
  title: string;
  measures: string[];
  groupBy: string[];
  stack?: boolean;
  top?: number;
  peerTeam?: string;
}

const list = (value: string | undefined) => (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);

export function readSpec(element: HTMLElement): WidgetSpec {
  const kind = element.dataset.widget ?? "";
  if (!KINDS.includes(kind)) throw new Error(`unknown widget kind ${kind}`);
  const spec: WidgetSpec = { kind: kind as WidgetKind, title: element.dataset.title ?? "",
                             measures: list(element.dataset.measures), groupBy: list(element.dataset.groupBy) };
  if (element.dataset.stack !== undefined) spec.stack = true;
  if (element.dataset.top) spec.top = Number(element.dataset.top);
  if (element.dataset.peerTeam) spec.peerTeam = element.dataset.peerTeam;
  return spec;
}

type State = "loading" | "unavailable" | "empty" | "error" | "ready";

function body(element: HTMLElement): HTMLElement {
  return element.querySelector<HTMLElement>("[data-widget-body]") ?? element;
}

// A drawn chart's clean-up (its ECharts instance and listeners), run when the widget is redrawn.
const disposers = new WeakMap<HTMLElement, () => void>();

function setState(element: HTMLElement, state: State, ...content: Node[]): void {
  if (state !== "loading") {
    disposers.get(element)?.();
    disposers.delete(element);
  }
  element.dataset.state = state;
  element.setAttribute("aria-busy", String(state === "loading"));
  body(element).replaceChildren(...content);
}

function message(title: string, detail: string): HTMLElement {
  const box = document.createElement("div");
  box.className = "widget-message";
  const strong = document.createElement("p");
  strong.className = "widget-message-title";
  strong.textContent = title;
  const small = document.createElement("p");
  small.textContent = detail;
  box.append(strong, small);
  return box;
}

/** Key figures without an answer: the tiles with "—", so the page keeps its shape. */
function emptyKpis(spec: WidgetSpec, note: HTMLElement): HTMLElement[] {
  return [kpis(spec, { rows: [], totals: {} }, false), note];
}

function kpis(spec: WidgetSpec, answer: AnalyticsAnswer, compare = true): HTMLElement {
  const tiles = document.createElement("dl");
  tiles.className = "kpis";
  for (const measure of spec.measures) {
    const tile = document.createElement("div");
    tile.className = "kpi";
    const name = document.createElement("dt");
    name.textContent = measureLabel(measure);
    const value = document.createElement("dd");
    value.className = "kpi-value";
    value.textContent = formatMeasure(measure, answer.totals[measure]);
    tile.append(name, value);
    if (compare) {
      const delta = document.createElement("dd");
      const moved = change(answer.totals[measure], answer.previous?.[measure]);
      delta.className = `kpi-change ${changeTone(measure, moved)}`.trim();
      delta.textContent = formatChange(moved);
      tile.append(delta);
    }
    tiles.appendChild(tile);
  }
  return tiles;
}

/** Rows with something to show: a bar of nothing (events of other kinds have no tool, no agent)
 * is noise. Time series keep every bucket, quiet ones too. */
export function shownRows(spec: WidgetSpec, rows: Row[]): Row[] {
  if (spec.kind === "timeseries") return rows;
  return rows.filter((row) => row[spec.groupBy[0] ?? ""] !== null &&
                              spec.measures.some((m) => typeof row[m] === "number" && row[m] !== 0));
}

function table(spec: WidgetSpec, rows: Row[]): HTMLElement {
  const wrapper = document.createElement("div");
  wrapper.className = "table-scroll";
  wrapper.tabIndex = 0; // a wide table scrolls sideways with the keyboard too
  wrapper.setAttribute("role", "region");
  wrapper.setAttribute("aria-label", spec.title);
  wrapper.appendChild(dataTable(spec.title, spec.groupBy, spec.measures, rows));
  return wrapper;
}

async function chart(spec: WidgetSpec, answer: AnalyticsAnswer, owner: HTMLElement): Promise<HTMLElement> {
  const wrapper = document.createElement("div");
  const canvas = document.createElement("div");
  canvas.className = "chart";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${spec.title}: chart; the same numbers are in the table below`);
  const details = document.createElement("details");
  details.className = "chart-data";
  const summary = document.createElement("summary");
  summary.textContent = "Show the data as a table";
  details.append(summary, dataTable(spec.title, spec.groupBy, spec.measures, answer.rows));
  wrapper.append(canvas, details);
  const { drawChart } = await import("./charts");
  requestAnimationFrame(() => {
    if (canvas.isConnected) disposers.set(owner, drawChart(canvas, spec, answer.rows));
  });
  return wrapper;
}

async function draw(spec: WidgetSpec, context: PageContext, fetcher: typeof fetch,
                    element: HTMLElement): Promise<[State, Node]> {
  if (spec.kind === "peer") {
    const { peerComparison } = await import("./peer");
    return ["ready", await peerComparison(spec, context, fetcher)];
  }
  const answer = await fetchAnalytics({ measures: spec.measures, groupBy: spec.groupBy, compare: spec.kind === "kpi",
                                        top: spec.top, sorted: spec.kind === "bar" || spec.kind === "table" },
                                      context, fetcher);
  if (spec.kind === "kpi") return ["ready", kpis(spec, answer)];
  const rows = shownRows(spec, answer.rows);
  if (rows.length === 0) {
    return ["empty", message("Nothing for these filters", "Try a longer date range or fewer filters.")];
  }
  return ["ready", spec.kind === "table" ? table(spec, rows) : await chart(spec, { ...answer, rows }, element)];
}

/** Ask and draw. `quiet` (a live refresh): what is shown stays until the new answer replaces it. */
export async function loadWidget(element: HTMLElement, context: PageContext, fetcher: typeof fetch = fetch,
                                 quiet = false): Promise<State> {
  const spec = readSpec(element);
  if (!quiet) setState(element, "loading", message("Loading…", "Asking the analytics service."));
  try {
    const [state, content] = await draw(spec, context, fetcher, element);
    setState(element, state, content);
  } catch (error) {
    if (error instanceof AnalyticsUnavailable) {
      const note = message("No data yet", "This view fills in once the analytics service answers.");
      setState(element, "unavailable", ...(spec.kind === "kpi" ? emptyKpis(spec, note) : [note]));
    } else {
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "button secondary";
      retry.textContent = "Retry";
      retry.addEventListener("click", () => { void loadWidget(element, context, fetcher); });
      setState(element, "error", message("Could not load this view", String((error as Error).message ?? error)), retry);
    }
  }
  return element.dataset.state as State;
}
