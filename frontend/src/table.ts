// Every chart has its data as a real table too: screen readers and keyboard users read the
// numbers, and anyone can copy them.
import { formatMeasure, measureLabel } from "./format";

export type Row = Record<string, string | number | null>;

const DIMENSION_LABELS: Record<string, string> = { user: "Person", mcp_server: "MCP server", agent: "Subagent" };

export function dimensionLabel(key: string): string {
  const label = DIMENSION_LABELS[key] ?? key.replace(/_/g, " ");
  return label.charAt(0).toUpperCase() + label.slice(1);
}

export function dataTable(caption: string, dimensions: string[], measures: string[], rows: Row[]): HTMLTableElement {
  const table = document.createElement("table");
  table.className = "data-table";
  table.createCaption().textContent = caption;
  const head = table.createTHead().insertRow();
  for (const key of [...dimensions, ...measures]) {
    const cell = document.createElement("th");
    cell.scope = "col";
    cell.textContent = measures.includes(key) ? measureLabel(key) : dimensionLabel(key);
    if (measures.includes(key)) cell.className = "num";
    head.appendChild(cell);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const line = body.insertRow();
    dimensions.forEach((key, index) => {
      const cell = document.createElement(index === 0 ? "th" : "td");
      if (index === 0) (cell as HTMLTableCellElement).scope = "row";
      cell.textContent = String(row[key] ?? "—");
      line.appendChild(cell);
    });
    for (const key of measures) {
      const cell = line.insertCell();
      cell.className = "num";
      const value = row[key];
      cell.textContent = formatMeasure(key, typeof value === "number" ? value : null);
    }
  }
  return table;
}
