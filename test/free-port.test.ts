import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from '../lib/free-port';

// A port from the kernel's ephemeral range can become an outgoing connection's local port before
// the server meant for it listens, and that listen then fails: freePort picks below the range.
const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

test('freePort gives ports below the ephemeral range that a server can listen on, on every interface', async () => {
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const port of ports) {
    expect(port).toBeGreaterThanOrEqual(1024);
    expect(port).toBeLessThan(ephemeralStart);
    const srv = createServer();
    await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, resolve));
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
});
