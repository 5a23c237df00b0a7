import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import type { CpuMeter } from './proc-tree';
import type { PortalSide, PortalSideFigures } from './portal-side';
import type { BenchRow } from './report';
import type { Session } from './portal-students';

/** Students in a load at once, each on their own connection with their own session. */
export const CONNECTIONS = 64;

/** Seconds a load is measured (the enroll/drop load beside the freshness probes runs longer). */
export const DURATION_S = 10;

/**
 * Each page is requested this long, unmeasured, before it is measured: a worker's first
 * requests of a page run cold code (V8 optimises it as it goes), and a portal in registration
 * week is warm. Three 5 s runs of /courses on a portal just started (2 workers, no daemon, twice):
 * 686, 900, 1069 and 780, 1002, 1036 req/s.
 */
const WARM_UP_S = 5;

export type Requests = NonNullable<autocannon.Options['requests']>;

interface LoadOptions {
  /** Each connection's own request list (default: GET `url`). */
  requestsOf?: (i: number) => Requests;
  duration?: number;
  /** Unmeasured seconds first (default: pages WARM_UP_S; enroll/drop, measured beside its freshness probes, none). */
  warmUp?: number;
  /** Students at once, the first of `sessions` (default CONNECTIONS). */
  connections?: number;
  /** Measures the cores each process group kept busy over the measured run. */
  meter?: CpuMeter;
  /** Reads the portal's side of the measured run from its metrics. */
  side?: PortalSide;
}

/** A measured load, with the cores its processes kept busy when metered, and the portal's side. */
export type Measured = autocannon.Result & { cores?: Map<string, number>; portalSide?: PortalSideFigures };

/** autocannon with one session per connection, each fetching `url` (or its own request list). */
export async function load(base: string, url: string, sessions: Session[], o: LoadOptions = {}): Promise<Measured> {
  const { requestsOf, duration = DURATION_S, connections = CONNECTIONS, meter } = o;
  const warmUp = o.warmUp ?? (requestsOf ? 0 : WARM_UP_S);
  const run = (seconds: number) => {
    let next = 0;
    return autocannon({
      url: base,
      connections,
      duration: seconds,
      setupClient(client) {
        const i = next++ % sessions.length;
        client.setRequests(
          requestsOf ? requestsOf(i) : [{ method: 'GET', path: url, headers: { cookie: sessions[i]!.cookie } }],
        );
      },
    });
  };
  if (warmUp > 0) await run(warmUp);
  await o.side?.start();
  meter?.start();
  const r: Measured = await run(duration);
  if (meter) r.cores = meter.stop();
  if (o.side) r.portalSide = await o.side.stop();
  return r;
}

export function figures(
  figure: string,
  r: autocannon.Result,
  goal: number,
  baseline: autocannon.Result,
  baselineName = '/healthz',
): BenchRow[] {
  const bad = r.errors + r.non2xx - (r.statusCodeStats?.['303']?.count ?? 0) - (r.statusCodeStats?.['302']?.count ?? 0);
  if (bad > 0) throw new Error(`${figure}: ${bad} requests failed (${JSON.stringify(r.statusCodeStats)})`);
  return [
    {
      section: 'portal',
      figure: `${figure}: throughput`,
      value: r.requests.average,
      unit: 'req/s',
      baseline: { name: baselineName, value: baseline.requests.average },
      goal: `>= ${goal} req/s`,
      met: r.requests.average >= goal,
    },
    { section: 'portal', figure: `${figure}: latency p50`, value: r.latency.p50, unit: 'ms' },
    {
      section: 'portal',
      figure: `${figure}: latency p99`,
      value: r.latency.p99,
      unit: 'ms',
      goal: '< 100 ms',
      met: r.latency.p99 < 100,
    },
  ];
}

/**
 * Where the cores went over a metered load, with the portal's CPU time per request; and, from the
 * portal's metrics, the requests' time inside it against the clients' (see PortalSide).
 */
export function cpuRows(figure: string, r: Measured): BenchRow[] {
  const portal = r.cores?.get('portal');
  if (portal === undefined || r.requests.average === 0) return [];
  const busy = [...r.cores!].map(([name, cores]) => `${name} ${cores.toFixed(2)}`).join(', ');
  const rows: BenchRow[] = [
    {
      section: 'portal',
      figure: `${figure}: portal CPU per request (cores busy: ${busy}; of ${availableParallelism()})`,
      value: (portal / r.requests.average) * 1000,
      unit: 'ms',
    },
  ];
  const s = r.portalSide;
  if (s && s.responses > 0)
    rows.push({
      section: 'portal',
      figure: `${figure}: mean time inside the portal, arrival to response end (clients: ${r.latency.mean.toFixed(1)} ms; over 100 ms inside: ${(s.over100 * 100).toFixed(2)}%; event-loop delay p99 ${s.lagP99Ms.toFixed(0)} ms, max ${s.lagMaxMs.toFixed(0)} ms)`,
      value: s.meanMs,
      unit: 'ms',
    });
  return rows;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}
