/** What the portal's own metrics say of a measured load (see PortalSide). */
export interface PortalSideFigures {
  /** Responses the portal ended over the load. */
  responses: number;
  /** Their mean time in the portal, from Express seeing the request to the response's end (ms). */
  meanMs: number;
  /** The share of them that took the portal over 100 ms. */
  over100: number;
  /** The event loop's delay over the load: p99 and max (ms), from Node's monitorEventLoopDelay. */
  lagP99Ms: number;
  lagMaxMs: number;
}

interface Totals {
  count: number;
  sum: number;
  within100: number;
  lagP99: number;
  lagMax: number;
}

/**
 * The portal's side of a load, read from its Prometheus metrics (PORTAL_METRICS_PORT) before and
 * after it: how long requests took once the portal had read them, against what the clients
 * measured (the difference waited in sockets and in the event loop's queue), and the event
 * loop's delay over the load (prom-client resets that histogram at every scrape, so the scrape
 * before the load starts it afresh).
 */
export class PortalSide {
  private before?: Totals;

  constructor(private readonly metricsUrl: string) {}

  async start(): Promise<void> {
    this.before = await this.read();
  }

  async stop(): Promise<PortalSideFigures> {
    const after = await this.read();
    const before = this.before ?? { count: 0, sum: 0, within100: 0 };
    const responses = after.count - before.count;
    return {
      responses,
      meanMs: responses > 0 ? ((after.sum - before.sum) / responses) * 1000 : 0,
      over100: responses > 0 ? 1 - (after.within100 - before.within100) / responses : 0,
      lagP99Ms: after.lagP99 * 1000,
      lagMaxMs: after.lagMax * 1000,
    };
  }

  private async read(): Promise<Totals> {
    const text = await (await fetch(this.metricsUrl)).text();
    const totals: Totals = { count: 0, sum: 0, within100: 0, lagP99: 0, lagMax: 0 };
    for (const line of text.split('\n')) {
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.startsWith('portal_http_request_duration_seconds_count{')) totals.count += value;
      else if (line.startsWith('portal_http_request_duration_seconds_sum{')) totals.sum += value;
      else if (line.startsWith('portal_http_request_duration_seconds_bucket{') && line.includes('le="0.1"'))
        totals.within100 += value;
      else if (line.startsWith('portal_nodejs_eventloop_lag_p99_seconds ')) totals.lagP99 = value;
      else if (line.startsWith('portal_nodejs_eventloop_lag_max_seconds ')) totals.lagMax = value;
    }
    return totals;
  }
}
