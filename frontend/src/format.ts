// How values are shown. Presentation only: every number comes from the analytics service.
const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const usd = new Intl.NumberFormat("en", { style: "currency", currency: "USD", maximumFractionDigits: 2 });
const percent = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 1 });

const isRatio = (measure: string) => measure.endsWith("_ratio") || measure.endsWith("_rate");
const isMoney = (measure: string) => measure === "cost_usd" || measure.startsWith("cost_per_");
const isDuration = (measure: string) => measure.endsWith("_ms");

export const MEASURE_LABELS: Record<string, string> = {
  sessions: "Sessions", active_users: "Active people", prompts: "Prompts", cost_usd: "Cost (estimate)",
  input_tokens: "Input tokens", output_tokens: "Output tokens", cache_read_tokens: "Cache reads",
  cache_creation_tokens: "Cache writes", cache_hit_ratio: "Cache hit ratio", tool_success_rate: "Tool success",
  lines_added: "Lines added", lines_removed: "Lines removed", commits: "Commits", pull_requests: "Pull requests",
  tool_executions: "Tool calls", agent_invocations: "Invocations", api_requests: "API requests",
  api_error_rate: "API error rate", cost_per_session: "Cost per session", skill_activations: "Activations",
  commands: "Runs", tool_duration_p50_ms: "Median duration", tool_duration_p95_ms: "95th percentile",
};

/** A duration in milliseconds as people read it: 850 ms, 4.2 s, 3.5 min. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${whole.format(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

export function measureLabel(measure: string): string {
  return MEASURE_LABELS[measure] ?? measure.replace(/_/g, " ");
}

export function formatMeasure(measure: string, value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (isMoney(measure)) return usd.format(value);
  if (isRatio(measure)) return percent.format(value);
  if (isDuration(measure)) return formatDuration(value);
  if (Math.abs(value) >= 10_000) return compact.format(value);
  return whole.format(value);
}

// Below half of the shown 0.1%, a change is shown as none (±0%) and not coloured.
const STEADY = 0.0005;

// Measures where less is better: their rise is shown as a worsening.
const LOWER_IS_BETTER = new Set(["cost_usd", "cost_per_session", "cost_per_commit", "api_errors", "api_error_rate"]);

/** "better" | "worse" | "" (no change or nothing to compare): how a change is coloured. */
export function changeTone(measure: string, moved: number | null): string {
  if (moved === null || Math.abs(moved) < STEADY) return "";
  return (moved > 0) !== LOWER_IS_BETTER.has(measure) ? "better" : "worse";
}

/** Relative change against the previous period, or null when there is nothing to compare with. */
export function change(current: number | null | undefined, previous: number | null | undefined): number | null {
  if (current === null || current === undefined || previous === null || previous === undefined || previous === 0) return null;
  return (current - previous) / Math.abs(previous);
}

export function formatChange(value: number | null): string {
  if (value === null) return "no earlier data";
  const sign = Math.abs(value) < STEADY ? "±" : value > 0 ? "+" : "−";
  return `${sign}${percent.format(Math.abs(value))} vs previous period`;
}
