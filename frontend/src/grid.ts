// The layout editor of /dashboards/{id}: a GridStack grid (12 columns) whose widgets can be
// dragged by their header, resized, removed and added (measures, grouping and chart picked from
// the analytics catalogue), then saved through /api/dashboards. Loaded only on that page.
import { GridStack, type GridItemHTMLElement } from "gridstack";
import type { PageContext } from "./analytics";
import { renderWidget } from "./grid-widget";
import { CHARTS, COLUMNS, arranged, csrfToken, newId, placeNew, saveLayout, SaveError, type Chart, type Dashboard,
         type LayoutWidget, type Place } from "./layout";
import { REFRESH_EVENT } from "./live";

interface Catalogue {
  measures: { name: string; description: string }[];
  dimensions: { name: string; description: string }[];
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text = ""): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text) made.textContent = text;
  return made;
}

export class LayoutEditor {
  private readonly widgets = new Map<string, LayoutWidget>();
  private readonly grid: GridStack;

  constructor(private dashboard: Dashboard, private readonly root: HTMLElement, private readonly context: PageContext) {
    this.grid = GridStack.init({ column: COLUMNS, cellHeight: 80, margin: 8, animate: false,
                                 handle: ".grid-widget-header" }, root)!;
    this.grid.batchUpdate();
    for (const widget of dashboard.widgets) this.add(widget);
    this.grid.batchUpdate(false);
    document.addEventListener(REFRESH_EVENT, () => this.refresh());
  }

  add(widget: LayoutWidget): void {
    this.widgets.set(widget.id, widget);
    const item = element("div", "grid-stack-item");
    item.setAttribute("gs-id", widget.id);
    const content = element("section", "grid-stack-item-content widget");
    content.dataset.gridWidget = widget.id;
    const header = element("div", "widget-header grid-widget-header");
    const title = element("h2", "", widget.title || widget.measures.join(", "));
    const remove = element("button", "button ghost grid-remove", "×");
    remove.type = "button";
    remove.setAttribute("aria-label", `Remove ${title.textContent}`);
    remove.addEventListener("click", () => this.remove(widget.id, item));
    header.append(title, remove);
    const body = element("div", "widget-body");
    content.append(header, body);
    item.appendChild(content);
    this.root.appendChild(item);
    this.grid.makeWidget(item, { x: widget.x, y: widget.y, w: widget.w, h: widget.h, id: widget.id });
    void renderWidget(body, widget, this.context);
  }

  remove(id: string, item: HTMLElement): void {
    this.widgets.delete(id);
    this.grid.removeWidget(item);
  }

  places(): Map<string, Place> {
    const found = new Map<string, Place>();
    for (const item of this.grid.getGridItems() as GridItemHTMLElement[]) {
      const node = item.gridstackNode;
      if (node?.id) found.set(String(node.id), { x: node.x ?? 0, y: node.y ?? 0, w: node.w ?? 1, h: node.h ?? 1 });
    }
    return found;
  }

  refresh(): void {
    for (const [id, widget] of this.widgets) {
      const body = this.root.querySelector<HTMLElement>(`[data-grid-widget="${id}"] .widget-body`);
      if (body) void renderWidget(body, widget, this.context);
    }
  }

  async save(name: string): Promise<Dashboard> {
    const saved = await saveLayout(this.dashboard, name, arranged(this.widgets, this.places()),
                                   csrfToken(document.cookie));
    this.dashboard = saved;
    return saved;
  }

  newWidget(title: string, measures: string[], groupBy: string[], chart: Chart): LayoutWidget {
    const place = placeNew([...this.places().values()], chart);
    const widget = { id: newId(this.widgets.keys()), title, measures, group_by: groupBy, chart, ...place };
    this.add(widget);
    return widget;
  }
}

function options(select: HTMLSelectElement, values: { name: string; description?: string }[]): void {
  for (const value of values) {
    const option = element("option", "", value.name.replace(/_/g, " "));
    option.value = value.name;
    if (value.description) option.title = value.description;
    select.appendChild(option);
  }
}

function field(label: string, control: HTMLElement): HTMLLabelElement {
  const wrapper = element("label", "field", label);
  wrapper.appendChild(control);
  return wrapper;
}

/** The "Add widget" dialog, filled from the catalogue. */
function addDialog(editor: LayoutEditor, catalogue: Catalogue): HTMLDialogElement {
  const dialog = element("dialog", "grid-dialog");
  const form = element("form");
  form.method = "dialog";
  const title = element("input");
  title.maxLength = 200;
  const measures = element("select");
  measures.multiple = true;
  measures.required = true;
  options(measures, catalogue.measures);
  const groupBy = element("select");
  options(groupBy, [{ name: "" }, ...catalogue.dimensions]);
  const chart = element("select");
  options(chart, CHARTS.map((name) => ({ name })));
  const add = element("button", "button", "Add");
  add.value = "add";
  const cancel = element("button", "button secondary", "Cancel");
  cancel.value = "cancel";
  form.append(element("h2", "", "Add a widget"), field("Title", title), field("Measures", measures),
              field("Group by", groupBy), field("Chart", chart), add, cancel);
  dialog.appendChild(form);
  dialog.addEventListener("close", () => {
    const picked = [...measures.selectedOptions].map((option) => option.value);
    if (dialog.returnValue === "add" && picked.length) {
      editor.newWidget(title.value.trim(), picked, groupBy.value ? [groupBy.value] : [], chart.value as Chart);
    }
    form.reset();
  });
  return dialog;
}

export async function mountGrid(root: HTMLElement, context: PageContext): Promise<LayoutEditor | null> {
  const data = document.getElementById("fm-dashboard")?.textContent;
  if (!data) return null;
  const editor = new LayoutEditor(JSON.parse(data) as Dashboard, root, context);
  const toolbar = document.querySelector<HTMLElement>("[data-grid-toolbar]");
  if (!toolbar) return editor;
  toolbar.hidden = false;
  const status = toolbar.querySelector<HTMLElement>("[data-grid-status]")!;
  const name = toolbar.querySelector<HTMLInputElement>("[data-grid-name]")!;
  toolbar.querySelector("[data-grid-save]")?.addEventListener("click", () => {
    status.textContent = "Saving…";
    editor.save(name.value.trim()).then((saved) => {
      status.textContent = "Saved";
      history.replaceState(null, "", `/dashboards/${saved.id}${window.location.search}`);
    }, (error: Error) => {
      status.textContent = error instanceof SaveError ? error.message : `Not saved: ${error.message}`;
    });
  });
  const response = await fetch("/api/v1/analytics/catalogue", { headers: { accept: "application/json" } });
  if (response.ok) {
    const dialog = addDialog(editor, await response.json() as Catalogue);
    document.body.appendChild(dialog);
    toolbar.querySelector("[data-grid-add]")?.addEventListener("click", () => dialog.showModal());
  }
  return editor;
}
