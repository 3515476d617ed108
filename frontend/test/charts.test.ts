import { describe, expect, it, vi } from "vitest";
import { analyticsUrl } from "../src/analytics";
import { perPerson, peerComparison } from "../src/peer";
import { shownRows, type WidgetSpec } from "../src/widgets";

// echarts needs a canvas; seriesOf is pure, so the module is loaded with echarts stubbed out.
vi.mock("echarts/core", () => ({ use: () => undefined, init: () => ({}) }));
vi.mock("echarts/charts", () => ({ BarChart: {}, LineChart: {} }));
vi.mock("echarts/components", () => ({ AriaComponent: {}, GridComponent: {}, LegendComponent: {}, TooltipComponent: {} }));
vi.mock("echarts/renderers", () => ({ CanvasRenderer: {} }));
const { seriesOf } = await import("../src/charts");

const context = { start: "2026-11-05T00:00:00+00:00", end: "2026-12-05T00:00:00+00:00", granularity: "day",
                  filters: { team: ["platform"], user: ["me-id"] } };

function answer(body: unknown): typeof fetch {
  return vi.fn(async () => new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } }));
}

describe("what a widget asks", () => {
  it("never sends granularity: a bar by model gets one row per model, not day x model", () => {
    const bar = new URL(analyticsUrl({ measures: ["cost_usd"], groupBy: ["model"] }, context), "http://x");
    expect(bar.searchParams.has("granularity")).toBe(false);
    expect(bar.searchParams.get("group_by")).toBe("model");
    const series = new URL(analyticsUrl({ measures: ["cost_usd"], groupBy: ["week", "model"] }, context), "http://x");
    expect(series.searchParams.get("group_by")).toBe("week,model"); // the time dimension travels in group_by
    expect(series.searchParams.has("granularity")).toBe(false);
  });

  it("asks for the largest rows first when it shows a top list", () => {
    const top = new URL(analyticsUrl({ measures: ["tool_executions"], groupBy: ["tool"], top: 10 }, context), "http://x");
    expect(top.searchParams.get("order_by")).toBe("-tool_executions");
    expect(top.searchParams.get("limit")).toBe("10");
    const sorted = new URL(analyticsUrl({ measures: ["sessions"], groupBy: ["team"], sorted: true }, context), "http://x");
    expect([sorted.searchParams.get("order_by"), sorted.searchParams.has("limit")]).toEqual(["-sessions", false]);
  });
});

describe("chart series", () => {
  const stacked: WidgetSpec = { kind: "timeseries", title: "Cost by model", measures: ["cost_usd"], groupBy: ["day", "model"],
                                stack: true };

  it("splits by the second dimension, largest total first, with zeros where a value is missing", () => {
    const rows = [{ day: "2026-11-01", model: "opus", cost_usd: 1 }, { day: "2026-11-01", model: "sonnet", cost_usd: 4 },
                  { day: "2026-11-02", model: "sonnet", cost_usd: 2 }, { day: "2026-11-02", model: "haiku", cost_usd: 0 }];
    const { categories, series } = seriesOf(stacked, rows);
    expect(categories).toEqual(["2026-11-01", "2026-11-02"]);
    expect(series).toEqual([{ name: "sonnet", data: [4, 2] }, { name: "opus", data: [1, 0] }]); // haiku: nothing
  });

  it("draws one series per measure without a second dimension", () => {
    const tokens: WidgetSpec = { kind: "timeseries", title: "Tokens", measures: ["input_tokens", "output_tokens"],
                                 groupBy: ["day"], stack: true };
    const { series } = seriesOf(tokens, [{ day: "d1", input_tokens: 5, output_tokens: null }]);
    expect(series).toEqual([{ name: "Input tokens", data: [5] }, { name: "Output tokens", data: [null] }]);
  });

  it("leaves out bars of nothing but keeps every bucket of a time series", () => {
    const rows = [{ tool: "Read", tool_executions: 3 }, { tool: null, tool_executions: 0 }, { tool: "Bash", tool_executions: 0 }];
    expect(shownRows({ kind: "bar", title: "", measures: ["tool_executions"], groupBy: ["tool"] }, rows)).toEqual([rows[0]]);
    const quiet = [{ day: "d1", sessions: 0 }];
    expect(shownRows({ kind: "timeseries", title: "", measures: ["sessions"], groupBy: ["day"] }, quiet)).toEqual(quiet);
  });
});

describe("me next to my team", () => {
  const spec: WidgetSpec = { kind: "peer", title: "You and your team", measures: ["sessions", "tool_success_rate"],
                             groupBy: [], peerTeam: "platform" };

  it("divides the team's sums by its active people, never its rates", () => {
    expect(perPerson("sessions", 50, 5)).toBe(10);
    expect(perPerson("tool_success_rate", 0.9, 5)).toBe(0.9);
    expect(perPerson("sessions", 50, 0)).toBeNull();
    expect(perPerson("sessions", null, 5)).toBeNull();
  });

  it("asks for the whole team (not me) and shows the average person", async () => {
    const fetcher = vi.fn(async (url: string | URL | Request) => {
      const mine = new URL(String(url), "http://x").searchParams.has("user");
      const body = mine ? { rows: [], totals: { sessions: 12, tool_success_rate: 0.95 } }
                        : { rows: [], totals: { sessions: 60, tool_success_rate: 0.9, active_users: 6 }, anonymised: true };
      return new Response(JSON.stringify(body), { status: 200 });
    });
    const box = await peerComparison(spec, context, fetcher as typeof fetch);
    const teamUrl = new URL(String(fetcher.mock.calls[1]![0]), "http://x");
    expect(teamUrl.searchParams.getAll("team")).toEqual(["platform"]);
    expect(teamUrl.searchParams.has("user")).toBe(false);
    const cells = [...box.querySelectorAll("tbody tr")].map((row) => [...row.children].map((cell) => cell.textContent));
    expect(cells).toEqual([["Sessions", "12", "10"], ["Tool success", "95%", "90%"]]);
  });

  it("withholds the team's figures when the service did", async () => {
    const withheld = answer({ rows: [], totals: { sessions: null, active_users: null, withheld: true }, anonymised: true,
                              min_group_size: 5 });
    const box = await peerComparison(spec, context, withheld);
    expect(box.querySelector("tbody tr")!.lastElementChild!.textContent).toBe("—");
    expect(box.textContent).toContain("fewer than 5 people");
  });
});
