import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
  at: number;
}

/**
 * A real HTTP server on a free local port that records every POST. `respond` decides each answer
 * in turn: a status code, or 'hang' (never answers: the sender's timeout fires).
 */
export interface WebhookReceiver {
  url: string;
  received: Received[];
  /** Answers for the next requests, in order; after them, `otherwise` (default 200). */
  respond: (...answers: (number | 'hang')[]) => void;
  otherwise: (answer: number | 'hang') => void;
  waitFor: (n: number, timeoutMs?: number) => Promise<Received[]>;
  close: () => Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: Received[] = [];
  const queue: (number | 'hang')[] = [];
  let fallback: number | 'hang' = 200;
  const hanging = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw);
      } catch {
        /* recorded raw */
      }
      received.push({ headers: req.headers, raw, body, at: Date.now() });
      const answer = queue.length > 0 ? queue.shift()! : fallback;
      if (answer === 'hang') {
        const end = () => res.destroy();
        hanging.add(end);
        return;
      }
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    respond: (...answers) => queue.push(...answers),
    otherwise: (a) => (fallback = a),
    async waitFor(n, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      while (received.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      return received;
    },
    close: async () => {
      hanging.forEach((end) => end());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Checks `X-Campus-Signature: sha256=<hex>` the way a receiver should: HMAC of the raw body, constant time. */
export function signatureValid(secret: string, r: Received): boolean {
  const header = String(r.headers['x-campus-signature'] ?? '');
  const expected = `sha256=${createHmac('sha256', secret).update(r.raw).digest('hex')}`;
  return header.length === expected.length && timingSafeEqual(Buffer.from(header), Buffer.from(expected));
}
