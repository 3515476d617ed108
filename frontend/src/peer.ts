// The Me page's comparison: one's own figures next to the average person of one's team. The team's
// figures are the analytics service's anonymised aggregate (for a member): when fewer people than
// the organisation's minimum group size were active, the service withholds them, and so does this.
import { fetchAnalytics, type PageContext } from "./analytics";
import { formatMeasure, measureLabel } from "./format";
import type { WidgetSpec } from "./widgets";

/** Ratios are already per anything: the team's own ratio is the comparison, not a share of it. */
const isRatio = (measure: string) => measure.endsWith("_ratio") || measure.endsWith("_rate");

/** The team's figure per active person (ratios as they are); null when withheld or nobody was active. */
export function perPerson(measure: string, total: number | null | undefined, people: number | null | undefined): number | null {
  if (total === null || total === undefined) return null;
  if (isRatio(measure)) return total;
  return people ? total / people : null;
}

function cell(tag: "th" | "td", text: string, numeric = false): HTMLTableCellElement {
  const element = document.createElement(tag);
  element.textContent = text;
  if (numeric) element.className = "num";
  return element;
}

function note(text: string): HTMLElement {
  const paragraph = document.createElement("p");
  paragraph.className = "muted small peer-note";
  paragraph.textContent = text;
  return paragraph;
}

export async function peerComparison(spec: WidgetSpec, context: PageContext,
                                     fetcher: typeof fetch = fetch): Promise<HTMLElement> {
  const box = document.createElement("div");
  const mine = await fetchAnalytics({ measures: spec.measures, groupBy: [] }, context, fetcher);
  const { user: _me, ...others } = context.filters; // the team as a whole, under the page's other filters
  const team = spec.peerTeam ? await fetchAnalytics(
    { measures: [...spec.measures, "active_users"], groupBy: [], filters: { ...others, team: [spec.peerTeam] } },
    context, fetcher) : null;
  const withheld = team !== null && (team.totals as Record<string, unknown>).withheld === true;
  const people = team?.totals.active_users ?? null;
  const table = document.createElement("table");
  table.className = "data-table peer-table";
  table.createCaption().textContent = spec.title;
  const head = table.createTHead().insertRow();
  for (const title of ["Measure", "You", spec.peerTeam ? `Average person in ${spec.peerTeam}` : "Team average"]) {
    const th = cell("th", title, title !== "Measure");
    th.scope = "col";
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const measure of spec.measures) {
    const row = body.insertRow();
    const name = cell("th", measureLabel(measure));
    name.scope = "row";
    row.append(name, cell("td", formatMeasure(measure, mine.totals[measure]), true),
               cell("td", formatMeasure(measure, withheld ? null : perPerson(measure, team?.totals[measure], people)), true));
  }
  box.appendChild(table);
  if (!spec.peerTeam) {
    box.appendChild(note("You are in no team yet, so there is no team average to compare with."));
  } else if (withheld) {
    box.appendChild(note(`The team average is withheld: fewer than ${team?.min_group_size ?? "the minimum number of"} ` +
                         "people were active in this period (the organisation's anonymity threshold)."));
  } else {
    box.appendChild(note(`Team figures divided by the ${formatMeasure("active_users", people)} people active in ` +
                         `${spec.peerTeam} in this period; rates are the team's own.`));
  }
  return box;
}
