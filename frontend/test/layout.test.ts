import { describe, expect, it } from "vitest";
import { widgetUrl } from "../src/grid-widget";
import { arranged, csrfToken, newId, placeNew, saveLayout, SaveError, type Dashboard, type LayoutWidget } from "../src/layout";

const cost: LayoutWidget = { id: "cost", title: "Cost", measures: ["cost_usd"], group_by: ["model"], chart: "bar",
                             x: 0, y: 0, w: 6, h: 4 };
const context = { start: "2026-11-01", end: "2026-12-01", granularity: "day", filters: { team: ["platform"] } };

describe("layouts", () => {
  it("puts a new widget below the others: tiles across the grid, charts on half of it", () => {
    expect(placeNew([{ x: 0, y: 0, w: 12, h: 2 }, { x: 6, y: 2, w: 6, h: 4 }], "bar")).toEqual({ x: 0, y: 6, w: 6, h: 4 });
    expect(placeNew([], "tiles")).toEqual({ x: 0, y: 0, w: 12, h: 2 });
  });

  it("saves each widget's query at the place the grid shows, top to bottom", () => {
    const tiles = { ...cost, id: "tiles", chart: "tiles" as const, group_by: [] };
    const saved = arranged(new Map([["cost", cost], ["tiles", tiles]]),
                           new Map([["cost", { x: 6, y: 3, w: 6, h: 5 }], ["tiles", { x: 0, y: 0, w: 12, h: 2 }]]));
    expect(saved.map((w) => [w.id, w.x, w.y, w.w, w.h, w.measures])).toEqual([
      ["tiles", 0, 0, 12, 2, ["cost_usd"]], ["cost", 6, 3, 6, 5, ["cost_usd"]]]);
  });

  it("makes ids that are not taken", () => {
    const values = [0.5, 0.5, 0.25];
    const first = newId([], () => 0.5);
    expect(newId([first], () => values.shift()!)).not.toBe(first);
  });

  it("reads the double-submit token from the cookies", () => {
    expect(csrfToken("theme=dark; fm_csrf=abc%3D; other=1")).toBe("abc=");
    expect(csrfToken("theme=dark")).toBe("");
  });

  it("asks the analytics service for the widget's query within the page's range and filters", () => {
    const url = new URL(widgetUrl({ ...cost, filters: { model: ["opus"] } }, context), "http://x");
    expect(Object.fromEntries(url.searchParams)).toEqual({ measures: "cost_usd", start: "2026-11-01", end: "2026-12-01",
                                                           group_by: "model", team: "platform", model: "opus" });
  });
});

describe("saving", () => {
  const calls: { url: string; init: RequestInit }[] = [];
  const answer = (status: number, body: object) => async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    return new Response(JSON.stringify(body), { status });
  };
  const mine: Dashboard = { id: "d1", name: "Mine", widgets: [], mine: true, builtin: false };

  it("changes one's own layout in place and saves anything else as a new layout", async () => {
    await saveLayout(mine, "Mine", [cost], "tok", answer(200, mine) as typeof fetch);
    await saveLayout({ ...mine, id: null, builtin: true, mine: false }, "Copy", [cost], "tok",
                     answer(201, mine) as typeof fetch);
    expect(calls.map((c) => [c.init.method, c.url])).toEqual([["PUT", "/api/dashboards/d1"], ["POST", "/api/dashboards"]]);
    expect((calls[0]!.init.headers as Record<string, string>)["x-csrf-token"]).toBe("tok");
  });

  it("says which field the service refused", async () => {
    const refused = answer(422, { error: { message: "widgets.0.measures.0: unknown measure 'x'", field: "widgets.0.measures.0" } });
    const error = await saveLayout(mine, "Mine", [cost], "tok", refused as typeof fetch).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SaveError);
    expect((error as SaveError).field).toBe("widgets.0.measures.0");
  });
});
