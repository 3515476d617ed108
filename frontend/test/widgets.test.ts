import { describe, expect, it, vi } from "vitest";
import { analyticsUrl } from "../src/analytics";
import { change, changeTone, formatChange, formatMeasure } from "../src/format";
import { dataTable } from "../src/table";
import { loadWidget, readSpec } from "../src/widgets";

const context = { start: "2026-11-05T00:00:00+00:00", end: "2026-12-05T00:00:00+00:00", granularity: "day",
                  filters: { team: ["platform"], user: [] as string[] } };

function widget(kind: string, measures: string, groupBy = ""): HTMLElement {
  document.body.innerHTML = `<section data-widget="${kind}" data-title="Cost" data-measures="${measures}"
    data-group-by="${groupBy}"><h2>Cost</h2><div data-widget-body>Loading…</div></section>`;
  return document.querySelector("section")!;
}

function answer(status: number, body: unknown): typeof fetch {
  return vi.fn(async () => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } }));
}

describe("the analytics request", () => {
  it("carries the measures, dimensions, window and the page's filters", () => {
    const url = new URL(analyticsUrl({ measures: ["cost_usd", "sessions"], groupBy: ["day"], compare: true }, context),
                        "http://x");
    expect(url.pathname).toBe("/api/v1/analytics");
    expect(url.searchParams.get("measures")).toBe("cost_usd,sessions");
    expect(url.searchParams.get("group_by")).toBe("day");
    expect(url.searchParams.get("compare")).toBe("previous");
    expect(url.searchParams.getAll("team")).toEqual(["platform"]);
    expect(url.searchParams.get("start")).toBe(context.start);
  });
});

describe("a widget", () => {
  it("reads its spec from the markup", () => {
    expect(readSpec(widget("bar", "cost_usd, sessions", "model"))).toEqual(
      { kind: "bar", title: "Cost", measures: ["cost_usd", "sessions"], groupBy: ["model"] });
  });

  it("says 'no data yet' while the analytics service is not there", async () => {
    const element = widget("kpi", "sessions");
    expect(await loadWidget(element, context, answer(404, {}))).toBe("unavailable");
    expect(element.textContent).toContain("No data yet");
    expect(element.getAttribute("aria-busy")).toBe("false");
    expect([...element.querySelectorAll(".kpi-value")].map((node) => node.textContent)).toEqual(["—"]);
  });

  it("says when the filters match nothing", async () => {
    const element = widget("bar", "cost_usd", "model");
    expect(await loadWidget(element, context, answer(200, { rows: [], totals: {} }))).toBe("empty");
    expect(element.textContent).toContain("Nothing for these filters");
  });

  it("shows the service's error message and retries on request", async () => {
    const element = widget("kpi", "sessions");
    const failing = answer(422, { error: { code: "invalid", message: "team: no team 'x'" } });
    expect(await loadWidget(element, context, failing)).toBe("error");
    expect(element.textContent).toContain("team: no team 'x'");
    element.querySelector("button")!.click();
    expect(failing).toHaveBeenCalledTimes(2);
  });

  it("shows key figures with their change against the previous period", async () => {
    const element = widget("kpi", "sessions,cost_usd");
    const state = await loadWidget(element, context, answer(200, {
      rows: [], totals: { sessions: 120, cost_usd: 42.5 }, previous: { sessions: 100, cost_usd: 0 } }));
    expect(state).toBe("ready");
    const values = [...element.querySelectorAll(".kpi-value")].map((node) => node.textContent);
    expect(values).toEqual(["120", "$42.50"]);
    expect(element.querySelector(".kpi-change")!.textContent).toBe("+20% vs previous period");
    expect(element.querySelectorAll(".kpi-change")[1]!.textContent).toBe("no earlier data");
    expect(element.querySelector(".kpi-change")!.classList.contains("better")).toBe(true);
  });

  it("colours a rise in cost as a worsening and a fall as an improvement", () => {
    expect([changeTone("cost_usd", 0.1), changeTone("cost_usd", -0.1)]).toEqual(["worse", "better"]);
    expect([changeTone("sessions", 0.1), changeTone("sessions", 0), changeTone("sessions", null)]).toEqual(["better", "", ""]);
    expect([changeTone("sessions", -0.0001), formatChange(-0.0001)]).toEqual(["", "±0% vs previous period"]);
  });
});

describe("numbers as people read them", () => {
  it("formats by measure", () => {
    expect(formatMeasure("cost_usd", 1234.5)).toBe("$1,234.50");
    expect(formatMeasure("cache_hit_ratio", 0.8123)).toBe("81.2%");
    expect(formatMeasure("input_tokens", 1_250_000)).toBe("1.3M");
    expect(formatMeasure("sessions", null)).toBe("—");
  });

  it("has no change without a previous value", () => {
    expect(change(5, 0)).toBeNull();
    expect(formatChange(change(90, 100))).toBe("−10% vs previous period");
  });

  it("gives every chart an accessible table", () => {
    const table = dataTable("Cost by model", ["model"], ["cost_usd"], [{ model: "claude-sonnet-4-5", cost_usd: 12 }]);
    expect(table.caption!.textContent).toBe("Cost by model");
    expect([...table.querySelectorAll("thead th")].map((th) => th.getAttribute("scope"))).toEqual(["col", "col"]);
    const row = table.querySelector("tbody tr")!;
    expect(row.querySelector("th")!.getAttribute("scope")).toBe("row");
    expect(row.textContent).toContain("$12.00");
  });
});
