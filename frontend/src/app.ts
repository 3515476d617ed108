// The dashboard's one script (an ES module, so it runs after the page is parsed). Every part is
// an enhancement: the pages work without it.
import { setupAdmin } from "./admin";
import type { PageContext } from "./analytics";
import { forgetFilters, rememberFilters, restoredUrl, setupFilterBar } from "./filters";
import { REFRESH_EVENT, startLive } from "./live";
import { setupThemeToggle } from "./theme";
import { setupTimeline } from "./timeline";
import { loadWidget } from "./widgets";

interface ShellContext extends PageContext {
  userId: string;
}

function readContext(): ShellContext | null {
  const script = document.getElementById("fm-context");
  return script?.textContent ? JSON.parse(script.textContent) as ShellContext : null;
}

function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** An ingest's refresh redraws the page's widgets in place; a burst of ingests makes one refresh
 * (a short wait gathers them) and never two at once. */
function refresher(widgets: HTMLElement[], context: ShellContext): () => void {
  let timer: number | undefined;
  let running: Promise<unknown> | null = null;
  let again = false;
  const run = () => {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    running = Promise.all(widgets.map((element) => loadWidget(element, context, fetch, true))).finally(() => {
      running = null;
      if (again) {
        again = false;
        run();
      }
    });
  };
  return () => {
    if (timer === undefined) timer = window.setTimeout(run, 250);
  };
}

function start(): void {
  const root = document.documentElement;
  const storage = safeStorage();
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const toggle = document.querySelector<HTMLButtonElement>("[data-theme-toggle]");
  if (toggle && storage) setupThemeToggle(toggle, root, storage, () => dark.matches);

  setupAdmin(document);
  const context = readContext();
  if (!context) return;
  if (storage) {
    const restored = restoredUrl(storage, context.userId, window.location);
    if (restored) {
      window.location.replace(restored);
      return;
    }
    rememberFilters(storage, context.userId, window.location.search);
    document.querySelector("[data-filter-reset]")?.addEventListener("click", () => forgetFilters(storage, context.userId));
  }
  startLive(document, window.location);
  const form = document.querySelector<HTMLFormElement>("form[data-filter-bar]");
  if (form) setupFilterBar(form, (url) => window.location.assign(url), window.location.pathname);
  const widgets = [...document.querySelectorAll<HTMLElement>("[data-widget]")];
  widgets.forEach((element) => { void loadWidget(element, context); });
  if (widgets.length) document.addEventListener(REFRESH_EVENT, refresher(widgets, context));
  const timeline = document.querySelector<HTMLElement>("[data-timeline]");
  if (timeline) setupTimeline(timeline);
  const grid = document.querySelector<HTMLElement>("[data-grid]");
  if (grid) void import("./grid").then(({ mountGrid }) => mountGrid(grid, context));
}

start();
