// The filter bar. Its state lives in the URL query (bookmarkable, shareable); the server renders
// the form from it, so it works without JavaScript. Enhanced here: a change applies at once, empty
// values stay out of the URL, the custom dates show only for a custom range, and the last filter
// is remembered per user (localStorage) for the next visit that comes without one.
export const FILTER_KEYS = ["team", "user", "project", "model", "range", "start", "end", "granularity"] as const;

const storageKey = (userId: string) => `fm.filters.${userId}`;

/** Only the filter parameters of a query string, empty values dropped, in a stable order. */
export function filterQuery(search: string | URLSearchParams): URLSearchParams {
  const given = typeof search === "string" ? new URLSearchParams(search) : search;
  const kept = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    for (const value of given.getAll(key)) {
      if (value.trim() !== "") kept.append(key, value.trim());
    }
  }
  return kept;
}

export function rememberFilters(storage: Storage, userId: string, search: string): void {
  const query = filterQuery(search).toString();
  if (query) storage.setItem(storageKey(userId), query);
}

/** Where to go instead of this URL: the remembered filter, when the URL carries none. */
export function restoredUrl(storage: Storage, userId: string, location: { pathname: string; search: string }): string | null {
  if (filterQuery(location.search).toString() !== "") return null;
  const saved = storage.getItem(storageKey(userId));
  if (!saved) return null;
  const query = filterQuery(saved).toString();
  return query ? `${location.pathname}?${query}` : null;
}

export function forgetFilters(storage: Storage, userId: string): void {
  storage.removeItem(storageKey(userId));
}

/** The URL the form's current values stand for (path kept, empty values dropped). */
export function formUrl(form: HTMLFormElement, pathname: string): string {
  const data = new FormData(form);
  const params = new URLSearchParams();
  for (const [key, value] of data.entries()) {
    if (typeof value === "string") params.append(key, value);
  }
  if (params.get("range") !== "custom") {
    params.delete("start");
    params.delete("end");
  }
  const query = filterQuery(params).toString();
  return query ? `${pathname}?${query}` : pathname;
}

function showCustomDates(form: HTMLFormElement): boolean {
  const custom = (form.elements.namedItem("range") as HTMLSelectElement | null)?.value === "custom";
  form.querySelectorAll<HTMLElement>("[data-custom-range]").forEach((field) => { field.hidden = !custom; });
  return custom;
}

function datesComplete(form: HTMLFormElement): boolean {
  const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? "";
  return value("start") !== "" && value("end") !== "";
}

export function setupFilterBar(form: HTMLFormElement, navigate: (url: string) => void, pathname: string): void {
  form.classList.add("is-enhanced"); // the Apply button is hidden: changes apply at once
  showCustomDates(form);
  form.addEventListener("change", (event) => {
    const target = event.target as HTMLElement;
    const custom = showCustomDates(form);
    if (custom && !datesComplete(form)) {
      if (target.getAttribute("name") === "range") form.querySelector<HTMLInputElement>("[name=start]")?.focus();
      return;
    }
    navigate(formUrl(form, pathname));
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(formUrl(form, pathname));
  });
}
