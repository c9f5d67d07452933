import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { EventStream } from '../../app/event-stream.js';
import type { Monitor, PollOutcome } from '../../app/monitor.js';
import { PollLoop } from '../../app/poll-loop.js';
import { emptyDwellHistograms, observeDwells } from '../../core/dwell-histogram.js';
import type { Policy } from '../../core/policy.js';
import { formatMetrics, type ExporterSnapshot } from '../../output/prometheus.js';
import { ListenError, errnoWords } from '../../platform/errors.js';
import { pollClock, reportPollFailure, type CliContext } from '../context.js';
import type { EventSink } from '../event-log.js';
import { ExitCode } from '../exit-codes.js';
import { withPollingSession } from '../open-monitor.js';
import type { ServeOptions } from '../parse-command-line.js';

// `tcpdwell serve`: a Prometheus exporter. It polls on its own interval, never per scrape, so
// any number of scrapers cost nothing extra; /metrics serves the body the last poll produced.

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

export async function runServe(options: ServeOptions, context: CliContext): Promise<number> {
  return withPollingSession(options, context, ({ monitor, policy, log }) => serveThrough(monitor, policy, log, options, context));
}

async function serveThrough(monitor: Monitor, policy: Policy, log: EventSink | undefined, options: ServeOptions, context: CliContext): Promise<number> {
  const snapshot: ExporterSnapshot = {
    listenerPorts: options.listenerPorts,
    histograms: emptyDwellHistograms(),
    polls: { ok: 0, failed: 0 },
    lastPollOk: false,
    lastPollSeconds: 0,
    lastPollTimestampSeconds: 0,
    source: monitor.sourceName,
  };
  const stream = new EventStream();
  let body = formatMetrics(snapshot);

  /** Each poll, failed or not, becomes the next body; a failed one counts and says up 0, and keeps the last figures. */
  // The tracker as it was before the poll: a closed connection's dwell is read from it.
  let before = monitor.tracker;
  const onPoll = async (outcome: PollOutcome) => {
    snapshot.source = outcome.source;
    snapshot.lastPollSeconds = outcome.durationMs / 1000;
    snapshot.lastPollTimestampSeconds = outcome.takenAtMs / 1000;
    snapshot.lastPollOk = outcome.ok;
    if (outcome.ok) {
      snapshot.polls.ok++;
      const evaluation = await monitor.evaluateWithoutOwners(policy);
      snapshot.evaluation = evaluation;
      snapshot.histograms = observeDwells(snapshot.histograms, before, outcome.events);
      await log?.write(stream.next(outcome, evaluation));
    } else {
      snapshot.polls.failed++;
      await log?.write(stream.next(outcome, undefined));
    }
    body = formatMetrics(snapshot);
  };

  // The first poll before listening, so the first scrape has figures; then one every interval.
  let server: Server | undefined;
  const loop = new PollLoop({ clock: pollClock(context), signal: context.interrupt, intervalMs: options.intervalMs, failureReporting: 'first-of-streak' });
  try {
    await loop.run({
      poll: () => {
        before = monitor.tracker;
        return monitor.poll();
      },
      reportFailure: (outcome) => reportPollFailure(context, outcome),
      onPoll: async (outcome) => {
        await onPoll(outcome);
        if (server) return;
        server = await listen(options, () => body);
        const address = server.address();
        const where = typeof address === 'object' && address ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);
        context.stderr.write(`tcpdwell: serving http://${where}/metrics (polling every ${options.intervalMs / 1000}s through ${monitor.sourceName})\n`);
      },
    });
  } finally {
    // Stop at once: close() alone would wait for every keep-alive connection to time out.
    if (server) {
      const open = server;
      const closed = new Promise<void>((resolve) => open.close(() => resolve()));
      open.closeAllConnections();
      await closed;
    }
  }
  return ExitCode.OK;
}

function listen(options: ServeOptions, body: () => string): Promise<Server> {
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
      reject(new ListenError(`cannot listen on ${options.listen.host}:${options.listen.port}: ${errnoWords(error)}`, { cause: error }));
    });
    server.listen(options.listen.port, options.listen.host, () => resolve(server));
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
