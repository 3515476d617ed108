// The analytics contract: GET /api/v1/analytics (same cookie session) -> rows, totals and the
// previous period's totals. One source of numbers for pages, API, MCP and exports.
import type { Row } from "./table";

export interface AnalyticsAnswer {
  rows: Row[];
  totals: Record<string, number | null>;
  previous?: Record<string, number | null>;
  anonymised?: boolean;
  min_group_size?: number | null;
}

export interface PageContext {
  start: string;
  end: string;
  granularity: string;
  filters: Record<string, string[]>;
}

export interface AnalyticsRequest {
  measures: string[];
  groupBy: string[];
  compare?: boolean;
  top?: number | undefined; // only the `top` rows (implies sorted)
  sorted?: boolean; // rows by the first measure, largest first
  filters?: Record<string, string[]>; // instead of the page's filters
}


export class AnalyticsUnavailable extends Error {}

// No `granularity` parameter: it would add a time dimension to every question (a bar by model
// became day x model rows). A widget grouped by time carries the filter bar's granularity in its
// own group_by (the server renders it there); everything else gets one row per value.
export function analyticsUrl(request: AnalyticsRequest, context: PageContext): string {
  const params = new URLSearchParams({ measures: request.measures.join(","), start: context.start, end: context.end });
  if (request.groupBy.length) params.set("group_by", request.groupBy.join(","));
  if (request.compare) params.set("compare", "previous");
  if (request.sorted || request.top) params.set("order_by", `-${request.measures[0] ?? ""}`);
  if (request.top) params.set("limit", String(request.top));
  for (const [name, values] of Object.entries(request.filters ?? context.filters)) {
    for (const value of values) params.append(name, value);
  }
  return `/api/v1/analytics?${params.toString()}`;
}

export async function fetchAnalytics(request: AnalyticsRequest, context: PageContext,
                                     fetcher: typeof fetch = fetch): Promise<AnalyticsAnswer> {
  const response = await fetcher(analyticsUrl(request, context), { credentials: "same-origin",
                                                                   headers: { accept: "application/json" } });
  if (response.status === 404) throw new AnalyticsUnavailable("the analytics service is not available yet");
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const body = await response.json() as { error?: { message?: string } };
      message = body.error?.message ?? message;
    } catch { /* not our JSON envelope */ }
    throw new Error(message);
  }
  return await response.json() as AnalyticsAnswer;
}
