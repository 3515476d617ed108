import { beforeEach, describe, expect, it, vi } from "vitest";
import { filterQuery, forgetFilters, formUrl, rememberFilters, restoredUrl, setupFilterBar } from "../src/filters";

function filterForm(range = "30d"): HTMLFormElement {
  document.body.innerHTML = `
    <form data-filter-bar>
      <select name="team"><option value="">All</option><option value="platform">Platform</option></select>
      <select name="range">
        <option value="7d">7</option><option value="30d">30</option><option value="custom">custom</option>
      </select>
      <div data-custom-range hidden><input name="start" type="date" value=""></div>
      <div data-custom-range hidden><input name="end" type="date" value=""></div>
      <select name="granularity"><option value="day">day</option><option value="week">week</option></select>
      <button type="submit">Apply</button>
    </form>`;
  const form = document.querySelector("form")!;
  (form.elements.namedItem("range") as HTMLSelectElement).value = range;
  return form;
}

function change(form: HTMLFormElement, name: string, value: string): void {
  const element = form.elements.namedItem(name) as HTMLSelectElement | HTMLInputElement;
  element.value = value;
  element.dispatchEvent(new Event("change", { bubbles: true }));
}

describe("filter query", () => {
  it("keeps only filter parameters, without empty values", () => {
    expect(filterQuery("?team=a&utm=x&user=&range=7d&team=b").toString()).toBe("team=a&team=b&range=7d");
  });
});

describe("the remembered filter", () => {
  beforeEach(() => localStorage.clear());

  it("comes back on a visit without filters, per user", () => {
    rememberFilters(localStorage, "u1", "?team=platform&range=7d");
    expect(restoredUrl(localStorage, "u1", { pathname: "/overview", search: "" })).toBe("/overview?team=platform&range=7d");
    expect(restoredUrl(localStorage, "u2", { pathname: "/overview", search: "" })).toBeNull();
  });

  it("never overrides filters the URL carries", () => {
    rememberFilters(localStorage, "u1", "?team=platform");
    expect(restoredUrl(localStorage, "u1", { pathname: "/team", search: "?range=90d" })).toBeNull();
  });

  it("is forgotten on reset", () => {
    rememberFilters(localStorage, "u1", "?team=platform");
    forgetFilters(localStorage, "u1");
    expect(restoredUrl(localStorage, "u1", { pathname: "/overview", search: "" })).toBeNull();
  });
});

describe("the filter bar", () => {
  it("applies a change at once, with the state in the URL", () => {
    const form = filterForm();
    const navigate = vi.fn();
    setupFilterBar(form, navigate, "/overview");
    change(form, "team", "platform");
    expect(navigate).toHaveBeenCalledWith("/overview?team=platform&range=30d&granularity=day");
  });

  it("waits for both dates of a custom range, then applies them", () => {
    const form = filterForm();
    const navigate = vi.fn();
    setupFilterBar(form, navigate, "/team");
    change(form, "range", "custom");
    expect(navigate).not.toHaveBeenCalled();
    const dates = [...form.querySelectorAll<HTMLElement>("[data-custom-range]")];
    expect(dates.every((field) => !field.hidden)).toBe(true);
    change(form, "start", "2026-11-01");
    expect(navigate).not.toHaveBeenCalled();
    change(form, "end", "2026-11-30");
    expect(navigate).toHaveBeenCalledWith("/team?range=custom&start=2026-11-01&end=2026-11-30&granularity=day");
  });

  it("drops the dates of a preset range and hides them", () => {
    const form = filterForm("custom");
    (form.elements.namedItem("start") as HTMLInputElement).value = "2026-11-01";
    expect(formUrl(form, "/x")).toBe("/x?range=custom&start=2026-11-01&granularity=day");
    const navigate = vi.fn();
    setupFilterBar(form, navigate, "/x");
    change(form, "range", "7d");
    expect(navigate).toHaveBeenCalledWith("/x?range=7d&granularity=day");
    expect([...form.querySelectorAll<HTMLElement>("[data-custom-range]")].every((field) => field.hidden)).toBe(true);
  });
});
