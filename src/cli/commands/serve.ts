import { runExporter } from '../../app/serve-run.js';
import { closeScrapeServer, listenForScrapes } from '../../platform/metrics-server.js';
import { noticeReporter, pollClock, reportPollFailure, type CliContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { withPollingSession } from '../open-monitor.js';
import { censusIntervalOf, type ServeOptions } from '../parse-command-line.js';

// `tcpdwell serve`: the Prometheus exporter (app/serve-run.ts) on an HTTP endpoint
// (platform/metrics-server.ts, 127.0.0.1 unless told otherwise).

export { EXPORTER_LIMITS } from '../../platform/metrics-server.js';

export async function runServe(options: ServeOptions, context: CliContext): Promise<number> {
  // Nothing serve keeps holds a row past the next poll (the samples are text; --log's lines are
  // made when written): an unchanged connection's row is updated in place.
  return withPollingSession(options, context, { rowsInPlace: true }, async ({ monitor, policy, log }) => {
    monitor.pollInTiers({ censusIntervalMs: censusIntervalOf(options) });
    const notice = noticeReporter(context);
    const result = await runExporter({
      monitor,
      policy,
      ...(log ? { log } : {}),
      listenerPorts: options.listenerPorts,
      ...(options.netns && options.netnsSeriesMax > 0 ? { netnsLabels: { maxSeries: options.netnsSeriesMax } } : {}),
      clock: pollClock(context),
      signal: context.interrupt,
      intervalMs: options.intervalMs,
      reportFailure: (outcome) => reportPollFailure(context, outcome),
      reportNotices: (texts) => texts.forEach((text) => notice(text)),
      startServing: async (body) => {
        const server = await listenForScrapes(options.listen, body);
        const address = server.address();
        const where = typeof address === 'object' && address ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);
        context.stderr.write(`tcpdwell: serving http://${where}/metrics (polling every ${options.intervalMs / 1000}s through ${monitor.sourceName})\n`);
        return { stop: () => closeScrapeServer(server) };
      },
    });
    // Stopped before any poll succeeded: nothing was ever read, never OK.
    return result === 'ok' ? ExitCode.OK : ExitCode.UNKNOWN;
  });
}
