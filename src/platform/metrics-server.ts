import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ListenError, errnoWords } from './errors.js';

// The exporter's HTTP side: GET /metrics answers with the body the last poll produced (never a
// poll per scrape), within the limits below.

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * What one local user can hold of the exporter (README "Security"). At most MAX_CONNECTIONS are
 * open: a new one beyond it evicts the connection idle longest (no request in flight), or is itself
 * closed when every one is busy, so idle connections can never lock a scraper out. A connection
 * must finish its request headers within HEADERS_TIMEOUT_MS and its request within
 * REQUEST_TIMEOUT_MS (slowloris); a keep-alive connection is closed after KEEP_ALIVE_TIMEOUT_MS
 * without a request, and any connection silent for IDLE_TIMEOUT_MS. Prometheus scrapes with one
 * connection per target, so these bind nothing it does.
 */
export const EXPORTER_LIMITS = {
  MAX_CONNECTIONS: 64,
  HEADERS_TIMEOUT_MS: 5_000,
  REQUEST_TIMEOUT_MS: 10_000,
  KEEP_ALIVE_TIMEOUT_MS: 5_000,
  IDLE_TIMEOUT_MS: 10_000,
} as const;

/**
 * Listens on `address` and answers GET/HEAD /metrics with `body()` (Prometheus text format 0.0.4),
 * / with a pointer, anything else 404/405. Rejects with ListenError (its message names the address
 * and the errno in words) when the address is taken or refused.
 */
export function listenForScrapes(address: { host: string; port: number }, body: () => string): Promise<Server> {
  // Timeouts are checked this often (Node's default, 30 s, would let a slowloris hold on 6 times longer).
  const server = createServer({ connectionsCheckingInterval: 1_000 }, (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      response.writeHead(200, { 'content-type': CONTENT_TYPE }).end(request.method === 'HEAD' ? undefined : body());
    } else if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('tcpdwell exporter: metrics at /metrics\n');
    } else {
      response.writeHead(404).end();
    }
  });
  limitConnections(server);
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new ListenError(`cannot listen on ${address.host}:${address.port}: ${errnoWords(error)}`, { cause: error }));
    });
    server.listen(address.port, address.host, () => resolve(server));
  });
}

/** Timeouts and the connection cap of EXPORTER_LIMITS, applied to `server`. */
function limitConnections(server: Server): void {
  server.headersTimeout = EXPORTER_LIMITS.HEADERS_TIMEOUT_MS;
  server.requestTimeout = EXPORTER_LIMITS.REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = EXPORTER_LIMITS.KEEP_ALIVE_TIMEOUT_MS;
  // With no 'timeout' listener, Node destroys a socket silent this long.
  server.setTimeout(EXPORTER_LIMITS.IDLE_TIMEOUT_MS);
  // Oldest first (a Set keeps insertion order); a socket is busy while a request is in flight.
  const open = new Set<Socket>();
  const busy = new WeakSet<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    if (open.size <= EXPORTER_LIMITS.MAX_CONNECTIONS) return;
    const victim = [...open].find((s) => s !== socket && !busy.has(s)) ?? socket;
    victim.destroy();
    open.delete(victim);
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    busy.add(socket);
    // Moved to the end: the order of the Set is then the order of last use.
    if (open.delete(socket)) open.add(socket);
    response.once('finish', () => busy.delete(socket));
    response.once('close', () => busy.delete(socket));
  });
}

/** Stops at once: close() alone would wait for every keep-alive connection to time out. */
export async function closeScrapeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
