// Saved dashboard layouts (/api/dashboards): their shape, where a new widget goes, and saving.
// No DOM here (grid.ts draws), so the rules are tested on their own.

export type Chart = "tiles" | "line" | "bar" | "stacked_bar" | "table" | "pie";
export const CHARTS: Chart[] = ["tiles", "line", "bar", "stacked_bar", "table", "pie"];
export const COLUMNS = 12;
export const TIME_DIMENSIONS = ["hour", "day", "week", "month"];

export interface LayoutWidget {
  id: string;
  title: string;
  measures: string[];
  group_by: string[];
  filters?: Record<string, string[]>;
  chart: Chart;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Dashboard {
  id: string | null;
  name: string;
  widgets: LayoutWidget[];
  mine: boolean;
  builtin: boolean;
}

export interface Place {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A new widget goes below everything, full width for tiles, half width otherwise. */
export function placeNew(widgets: Place[], chart: Chart): Place {
  const bottom = widgets.reduce((lowest, w) => Math.max(lowest, w.y + w.h), 0);
  return chart === "tiles" ? { x: 0, y: bottom, w: COLUMNS, h: 2 } : { x: 0, y: bottom, w: 6, h: 4 };
}

export function newId(taken: Iterable<string>, random: () => number = Math.random): string {
  const used = new Set(taken);
  for (;;) {
    const id = `w${Math.floor(random() * 36 ** 6).toString(36)}`;
    if (!used.has(id)) return id;
  }
}

/** The layout to save: every widget's query as it was, at the place the grid now shows it. */
export function arranged(widgets: Map<string, LayoutWidget>, places: Map<string, Place>): LayoutWidget[] {
  return [...widgets.values()].map((widget) => ({ ...widget, ...(places.get(widget.id) ?? {}) }))
    .sort((a, b) => a.y - b.y || a.x - b.x);
}

export function csrfToken(cookies: string): string {
  const found = cookies.split("; ").find((cookie) => cookie.startsWith("fm_csrf="));
  return found ? decodeURIComponent(found.slice("fm_csrf=".length)) : "";
}

export class SaveError extends Error {
  constructor(message: string, readonly field: string | null) {
    super(message);
  }
}

/** PUT the caller's own layout; anything else (built-in, someone else's default) is saved as a
 * new layout of theirs (POST). Resolves to the saved layout. */
export async function saveLayout(dashboard: Dashboard, name: string, widgets: LayoutWidget[], csrf: string,
                                 fetcher: typeof fetch = fetch): Promise<Dashboard> {
  const own = dashboard.mine && dashboard.id !== null;
  const response = await fetcher(own ? `/api/dashboards/${dashboard.id}` : "/api/dashboards", {
    method: own ? "PUT" : "POST", credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "application/json", "x-csrf-token": csrf },
    body: JSON.stringify({ name, widgets }),
  });
  const body = await response.json() as Dashboard & { error?: { message: string; field: string | null } };
  if (!response.ok) throw new SaveError(body.error?.message ?? `HTTP ${response.status}`, body.error?.field ?? null);
  return body;
}
