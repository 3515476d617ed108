import { beforeEach, describe, expect, it } from "vitest";
import { LiveClient, REFRESH_EVENT, backoff, liveUrl, type RefreshDetail } from "../src/live";

class FakeSocket extends EventTarget {
  closedWith: number | null = null;
  constructor(readonly url: string) {
    super();
  }
  say(message: object): void {
    this.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(message) }));
  }
  drop(code: number): void {
    this.dispatchEvent(Object.assign(new Event("close"), { code }));
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.drop(code);
  }
}

describe("live updates", () => {
  let sockets: FakeSocket[];
  let timers: { callback: () => void; ms: number }[];
  let renewals: number;
  let indicator: HTMLElement;
  let client: LiveClient;
  const target = new EventTarget();

  beforeEach(() => {
    sockets = [];
    timers = [];
    renewals = 0;
    indicator = document.createElement("span");
    indicator.hidden = true;
    client = new LiveClient({
      url: "ws://example.test/ws", target, indicator,
      connect: (url) => { const socket = new FakeSocket(url); sockets.push(socket); return socket as unknown as WebSocket; },
      renew: async () => { renewals += 1; },
      schedule: (callback, ms) => { const timer = { callback, ms }; timers.push(timer); return timer; },
      cancel: (handle) => { timers = timers.filter((timer) => timer !== handle); },
      random: () => 1,
    });
  });

  const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

  it("turns a dashboard update into fortium:refresh on the target, with its organisation and teams", () => {
    const heard: RefreshDetail[] = [];
    target.addEventListener(REFRESH_EVENT, (event) => heard.push((event as CustomEvent<RefreshDetail>).detail));
    client.start();
    sockets[0]!.say({ type: "hello", heartbeat_seconds: 25 });
    sockets[0]!.say({ type: "metric_ingested", organization_id: "o", data: { counts: { task: 1 } } });
    sockets[0]!.say({ type: "dashboard_update", organization_id: "o", team_ids: ["t"], data: { reason: "metric_ingested" } });
    expect(heard).toEqual([{ reason: "metric_ingested", organization_id: "o", team_ids: ["t"] }]);
    expect(indicator.hidden).toBe(false);
    expect(indicator.dataset.state).toBe("live");
  });

  it("reconnects with a growing delay and says it is offline meanwhile", async () => {
    client.start();
    sockets[0]!.say({ type: "hello" });
    sockets[0]!.drop(1006);
    await flush();
    expect(indicator.dataset.state).toBe("offline");
    expect(timers.map((timer) => timer.ms)).toEqual([500]);
    timers.shift()!.callback();
    sockets[1]!.drop(1006);  // refused before hello: the session is renewed once, then backoff grows
    await flush();
    expect(renewals).toBe(1);
    timers.shift()!.callback();
    sockets[2]!.drop(1006);
    await flush();
    expect(renewals).toBe(1);
    expect(timers.map((timer) => timer.ms)).toEqual([2000]);
  });

  it("renews the session when the server says it ended, then reconnects", async () => {
    client.start();
    sockets[0]!.say({ type: "hello" });
    sockets[0]!.drop(4401);
    await flush();
    expect(renewals).toBe(1);
    timers.shift()!.callback();
    expect(sockets).toHaveLength(2);
  });

  it("gives up on a connection that went silent for two and a half heartbeats", () => {
    client.start();
    sockets[0]!.say({ type: "hello", heartbeat_seconds: 10 });
    expect(timers.map((timer) => timer.ms)).toEqual([25000]);
    timers.shift()!.callback();
    expect(sockets[0]!.closedWith).toBe(4000);
    expect(timers).toHaveLength(1);  // the reconnection
  });

  it("stops for good when asked", () => {
    client.start();
    client.stop();
    expect(sockets[0]!.closedWith).toBe(1000);
    expect(timers).toEqual([]);
  });
});

describe("the live URL and the backoff", () => {
  it("follows the page's scheme and host", () => {
    expect(liveUrl({ protocol: "https:", host: "metrics.example.com" })).toBe("wss://metrics.example.com/ws");
    expect(liveUrl({ protocol: "http:", host: "127.0.0.1:8765" })).toBe("ws://127.0.0.1:8765/ws");
  });

  it("doubles up to thirty seconds, less a random half", () => {
    expect([0, 1, 2, 10].map((n) => backoff(n, () => 1))).toEqual([500, 1000, 2000, 30000]);
    expect(backoff(10, () => 0)).toBe(15000);
  });
});
