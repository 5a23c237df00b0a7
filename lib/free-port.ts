import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Random ports tried below the ephemeral range before the kernel is asked for any free port. */
const TRIES = 50;
/** How far below the ephemeral range ports are picked. */
const SPAN = 16_384;

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now, for a server that will listen on it
 * a moment later. Picked at random below the kernel's ephemeral range: a port from that range (what
 * listening on port 0 gives) can become the local port of any outgoing connection before the
 * server listens, and then its listen fails with EADDRINUSE (measured here: a connection to MySQL
 * holding local port 52220 made `listen(52220)` fail). `npm start`'s test, which migrates and
 * seeds MySQL before the portal listens, failed in CI with npm start gone before it answered; its
 * output was lost, and this race, among the suite's thousands of connections, is the likely cause.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralStart();
  const low = Math.max(1024, high - SPAN);
  for (let i = 0; i < TRIES; i++) {
    const port = await listenable(randomInt(low, high));
    if (port !== undefined) return port;
  }
  return (await listenable(0))!;
}

/** The first port of the kernel's ephemeral range (Linux), else the IANA dynamic range's (49152). */
function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 1024) return low;
  } catch {
    // Not Linux: the IANA range, which macOS and Windows use.
  }
  return 49_152;
}

/** `port` (0: any the kernel picks) if a server can listen on it now; undefined if it is taken. */
function listenable(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(undefined) : reject(err),
    );
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as { port: number };
      srv.close(() => resolve(bound));
    });
  });
}
