import { createServer, type Server } from 'node:http';
import { EventStream } from '../../app/event-stream.js';
import type { Monitor } from '../../app/monitor.js';
import { emptyDwellHistograms, observeDwells } from '../../core/dwell-histogram.js';
import type { Policy } from '../../core/policy.js';
import { formatMetrics, type ExporterSnapshot } from '../../output/prometheus.js';
import { reportPollFailure, type CliContext } from '../context.js';
import type { EventSink } from '../event-log.js';
import { ExitCode } from '../exit-codes.js';
import { withPollingSession } from '../open-monitor.js';
import { UsageError, type ServeOptions } from '../parse-command-line.js';

// `tcpdwell serve`: a Prometheus exporter. It polls on its own interval, never per scrape, so
// any number of scrapers cost nothing extra; /metrics serves the body the last poll produced.

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

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
  let failedBefore = false;

  const pollOnce = async () => {
    const before = monitor.tracker;
    const outcome = await monitor.poll();
    snapshot.source = outcome.source;
    snapshot.lastPollSeconds = outcome.durationMs / 1000;
    snapshot.lastPollTimestampSeconds = outcome.takenAtMs / 1000;
    snapshot.lastPollOk = outcome.ok;
    if (outcome.ok) {
      snapshot.polls.ok++;
      failedBefore = false;
      const evaluation = await monitor.evaluateWithoutOwners(policy);
      snapshot.evaluation = evaluation;
      snapshot.histograms = observeDwells(snapshot.histograms, before, outcome.events);
      await log?.write(stream.next(outcome, evaluation));
    } else {
      snapshot.polls.failed++;
      if (!failedBefore) reportPollFailure(context, outcome);
      failedBefore = true;
    }
    body = formatMetrics(snapshot);
  };

  await pollOnce();
  const server = await listen(options, () => body);
  const address = server.address();
  const where = typeof address === 'object' && address ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);
  context.stderr.write(`tcpdwell: serving http://${where}/metrics (polling every ${options.intervalMs / 1000}s through ${monitor.sourceName})\n`);
  try {
    while (!context.interrupt.aborted) {
      await context.sleep(options.intervalMs, context.interrupt);
      if (context.interrupt.aborted) break;
      await pollOnce();
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return ExitCode.OK;
}

function listen(options: ServeOptions, body: () => string): Promise<Server> {
  const server = createServer((request, response) => {
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
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EADDRINUSE' ? 'address already in use' : error.code === 'EACCES' ? 'permission denied' : error.code === 'EADDRNOTAVAIL' ? 'no such local address' : error.message;
      reject(new UsageError(`cannot listen on ${options.listen.host}:${options.listen.port}: ${reason}`));
    });
    server.listen(options.listen.port, options.listen.host, () => resolve(server));
  });
}
