// Live updates: one WebSocket to /ws (same origin, so the browser sends the session cookie). A
// `dashboard_update` becomes the DOM event `fortium:refresh` on document, which widgets listen to
// and refetch; every message is also dispatched as `fortium:live` (alerts and the like).
// Reconnects with exponential backoff and jitter. After close code 4401 (the session ended), or a
// refused handshake (an expired access cookie: the browser cannot tell us which), it renews the
// session once before trying again. The header's indicator says whether updates are live.

export const REFRESH_EVENT = "fortium:refresh";
export const MESSAGE_EVENT = "fortium:live";
export const SESSION_ENDED = 4401;
const MAX_DELAY_MS = 30_000;

export type LiveState = "connecting" | "live" | "offline";

export interface LiveMessage {
  type: string;
  organization_id?: string;
  team_ids?: string[];
  data?: Record<string, unknown>;
  heartbeat_seconds?: number;
}

export interface RefreshDetail {
  reason: string;
  organization_id?: string;
  team_ids?: string[];
}

export interface LiveOptions {
  url: string;
  target: EventTarget;
  indicator?: HTMLElement | null;
  connect?: (url: string) => WebSocket;
  renew?: () => Promise<unknown>;
  schedule?: (callback: () => void, ms: number) => unknown;
  cancel?: (handle: unknown) => void;
  random?: () => number;
}

/** Milliseconds before reconnection attempt `attempt` (0, 1, ...): doubling from 0.5 s up to
 * 30 s, then a random half of it taken off, so a restarted server is not hit by every tab at once. */
export function backoff(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, 500 * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling * (0.5 + random() / 2));
}

export function liveUrl(location: Pick<Location, "protocol" | "host">): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
}

export function dispatchMessage(message: LiveMessage, target: EventTarget): void {
  target.dispatchEvent(new CustomEvent<LiveMessage>(MESSAGE_EVENT, { detail: message }));
  if (message.type !== "dashboard_update") return;
  const detail: RefreshDetail = { reason: String(message.data?.reason ?? "dashboard_update") };
  if (message.organization_id) detail.organization_id = message.organization_id;
  if (message.team_ids) detail.team_ids = message.team_ids;
  target.dispatchEvent(new CustomEvent<RefreshDetail>(REFRESH_EVENT, { detail }));
}

const LABELS: Record<LiveState, string> = { connecting: "Connecting…", live: "Live", offline: "Offline" };

export function showState(indicator: HTMLElement | null | undefined, state: LiveState): void {
  if (!indicator) return;
  indicator.hidden = false;
  indicator.dataset.state = state;
  indicator.title = state === "live" ? "Live: figures refresh as new activity arrives" : LABELS[state];
  const label = indicator.querySelector("[data-live-label]");
  if (label) label.textContent = LABELS[state];
}

export class LiveClient {
  private socket: WebSocket | null = null;
  private attempts = 0;
  private timer: unknown = null;
  private watchdog: unknown = null;
  private silenceMs = 0;
  private stopped = false;
  private live = false;
  private renewed = false;
  private readonly options: Required<Omit<LiveOptions, "indicator">> & { indicator: HTMLElement | null };

  constructor(options: LiveOptions) {
    this.options = {
      connect: (url) => new WebSocket(url),
      renew: () => fetch("/api/auth/renew?next=/healthz", { credentials: "same-origin" }),
      schedule: (callback, ms) => setTimeout(callback, ms),
      cancel: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      random: Math.random,
      ...options,
      indicator: options.indicator ?? null,
    };
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.socket?.close(1000);
    this.socket = null;
  }

  private open(): void {
    showState(this.options.indicator, "connecting");
    const socket = this.options.connect(this.options.url);
    this.socket = socket;
    socket.addEventListener("message", (event) => this.receive(event as MessageEvent));
    socket.addEventListener("close", (event) => { void this.closed(socket, (event as CloseEvent).code); });
  }

  private receive(event: MessageEvent): void {
    let message: LiveMessage;
    try {
      message = JSON.parse(String(event.data)) as LiveMessage;
    } catch {
      return;
    }
    if (message.type === "hello") {
      this.attempts = 0;
      this.live = true;
      this.renewed = false;
      this.silenceMs = Math.max(5_000, (message.heartbeat_seconds ?? 25) * 2_500);
      showState(this.options.indicator, "live");
    }
    this.watch();
    dispatchMessage(message, this.options.target);
  }

  /** No message (not even a heartbeat) for 2.5 heartbeats: the connection is dead; start again. */
  private watch(): void {
    if (this.watchdog !== null) this.options.cancel(this.watchdog);
    if (this.silenceMs) this.watchdog = this.options.schedule(() => this.socket?.close(4000), this.silenceMs);
  }

  private async closed(socket: WebSocket, code: number): Promise<void> {
    if (socket !== this.socket || this.stopped) return;
    this.socket = null;
    this.clearTimers();
    showState(this.options.indicator, "offline");
    const refused = !this.live && !this.renewed;
    this.live = false;
    if (code === SESSION_ENDED || refused) {
      this.renewed = true;
      try {
        await this.options.renew();
      } catch { /* offline: the backoff below retries */ }
    }
    if (this.stopped) return;
    this.timer = this.options.schedule(() => this.open(), backoff(this.attempts++, this.options.random));
  }

  private clearTimers(): void {
    for (const handle of [this.timer, this.watchdog]) {
      if (handle !== null) this.options.cancel(handle);
    }
    this.timer = this.watchdog = null;
  }
}

export function startLive(document: Document, location: Location): LiveClient | null {
  if (typeof WebSocket === "undefined") return null;
  const client = new LiveClient({ url: liveUrl(location), target: document,
                                  indicator: document.querySelector<HTMLElement>("[data-live-indicator]") });
  client.start();
  return client;
}
