// npm run soak [-- --minutes 10 --sockets 20000 --churn 1000 --interval 2s]
//
// Memory of the long-running modes under churn: a socket population plus `--churn` connections
// opened and closed every second (each leaving a TIME_WAIT for 60 s), polled by one in-process
// Monitor every `--interval`, the way the dashboard polls. Samples RSS, heap and the churn it saw
// (opened and closed per second) every 30 s, on stderr as it goes, then prints them as a table with
// the growth from the second minute to the last; flat means ≤ 10 %. Root only.
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.js';
import { runScriptInNamespace, startPopulation } from './population.js';

const SELF = new URL(import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    sockets: { type: 'string', default: '20000' },
    churn: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '2s' },
    inner: { type: 'boolean', default: false },
  },
});

interface Sample {
  minute: number;
  rssMb: number;
  heapMb: number;
  tracked: number;
  pollMs: number;
  /** Connections seen opening and closing a second since the last sample: the churn achieved. */
  openedPerSecond: number;
  closedPerSecond: number;
}

async function soakInside(): Promise<void> {
  const { Monitor } = await import('../src/app/monitor.js');
  const { defaultPolicy } = await import('../src/core/policy.js');
  const { nodePlatform } = await import('../src/platform/platform.js');
  const monitor = new Monitor(nodePlatform(), { source: 'auto', procRoot: '/proc' });
  const policy = defaultPolicy();
  const intervalMs = parseDuration(values.interval!);
  const endMs = Date.now() + Number(values.minutes) * 60_000;
  const startMs = Date.now();
  let nextSampleMs = startMs + 30_000;
  const samples: Sample[] = [];
  let lastPollMs = 0;
  let opened = 0;
  let closed = 0;
  let first = true;
  while (Date.now() < endMs) {
    const started = Date.now();
    const outcome = await monitor.poll();
    if (!outcome.ok) throw new Error(outcome.error);
    await monitor.evaluate(policy, 'flagged', { ranked: false });
    lastPollMs = Date.now() - started;
    if (!first) {
      for (const event of outcome.events) {
        if (event.type === 'opened') opened++;
        else if (event.type === 'closed') closed++;
      }
    }
    first = false;
    if (Date.now() >= nextSampleMs) {
      const memory = process.memoryUsage();
      samples.push({
        minute: (Date.now() - startMs) / 60_000,
        rssMb: memory.rss / 2 ** 20,
        heapMb: memory.heapUsed / 2 ** 20,
        tracked: monitor.tracker.connections.size,
        pollMs: lastPollMs,
        openedPerSecond: opened / 30,
        closedPerSecond: closed / 30,
      });
      // Also as it goes, on stderr: a long soak cut short still shows its samples.
      process.stderr.write(`soak sample ${JSON.stringify(samples.at(-1))}\n`);
      opened = closed = 0;
      nextSampleMs += 30_000;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (Date.now() - started))));
  }
  process.stdout.write(`${JSON.stringify(samples)}\n`);
}

async function main(): Promise<void> {
  if (values.inner) return soakInside();
  const population = await startPopulation(Number(values.sockets), Number(values.churn));
  try {
    // stderr straight through, so the samples printed as it goes are seen as it goes.
    const output = await runScriptInNamespace(population.namespace, SELF, ['--inner', '--minutes', values.minutes!, '--interval', values.interval!], new URL('..', import.meta.url).pathname);
    const samples = JSON.parse(output) as Sample[];
    const lines = [
      `Soak: ${values.sockets} sockets + ${values.churn} connections opened and closed a second, polled every ${values.interval} for ${values.minutes} min.`,
      '',
      '| minute | RSS MB | heap MB | tracked | last poll ms | opened/s | closed/s |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      ...samples.map(
        (s) =>
          `| ${s.minute.toFixed(1)} | ${s.rssMb.toFixed(0)} | ${s.heapMb.toFixed(0)} | ${s.tracked.toLocaleString('en')} | ${s.pollMs} | ${s.openedPerSecond.toFixed(0)} | ${s.closedPerSecond.toFixed(0)} |`,
      ),
    ];
    const warm = samples.filter((s) => s.minute >= 1 && s.minute < 2.5);
    const last = samples.slice(-3);
    if (warm.length && last.length) {
      const avg = (xs: Sample[], f: (s: Sample) => number) => xs.reduce((a, s) => a + f(s), 0) / xs.length;
      const growth = (f: (s: Sample) => number) => ((avg(last, f) / avg(warm, f) - 1) * 100).toFixed(1);
      lines.push('', `Growth from minutes 1–2.5 to the last samples: RSS ${growth((s) => s.rssMb)} %, heap ${growth((s) => s.heapMb)} % (flat: ≤ 10 %).`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    population.stop();
  }
}

await main();
