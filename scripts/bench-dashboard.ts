// npm run bench:dashboard [-- --connections 100000 --rounds 20]
//   tsx scripts/bench-dashboard.ts --live [--polls 5 --interval 2s --source auto --heap-snapshot FILE]   (npm run bench runs this in its namespace)
//
// The dashboard's cost with a synthetic tracker of N connections (no kernel, no root): the model
// steps it runs per poll or key (filter, sort, group), the formatting of one screenful, and a real
// blessed frame drawn to a 120×40 terminal that discards its output; memory with N tracked. Medians
// over the rounds. Prints a Markdown table (the README's dashboard section reproduces it).
//
// --live: the real `tcpdwell dashboard` command (the CLI's own code path, from dist/) on a 120×40
// terminal that discards its output, polling this machine's table; after one warm-up poll, --polls
// polls are measured: CPU per poll (this process, threads and children included) and peak RSS
// (VmHWM). Prints one JSON line (ProcessFigures). The process also holds tsx's loader: its RSS
// before the dashboard starts is printed as baselineRssKb.
import { Writable, PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import blessed from 'blessed';
import { defaultPolicy } from '../src/core/policy.js';
import { evaluateAll } from '../src/core/evaluate.js';
import type { SocketRow } from '../src/core/connection.js';
import type { ConnectionView } from '../src/core/evaluate.js';
import { advance, emptyTrackerState } from '../src/core/tracker.js';
import { compileFilter, groupViews, sortViews, visibleWindow } from '../src/dashboard/model.js';
import { colorPaint, connectionColumns, connectionHeader, connectionLine } from '../src/dashboard/render.js';
import type { ProcessFigures } from './bench-table.js';
import { median } from './bench-table.js';
import { readCpuMs, readMemoryKb, totalCpuMs } from './process-usage.js';

/** A 120×40 terminal that discards what is drawn, and its (silent) keyboard. */
function nullTerminal() {
  const output = Object.assign(new Writable({ write: (_c, _e, done) => done() }), { columns: 120, rows: 40, isTTY: true });
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
  return { input: input as unknown as NodeJS.ReadStream, output: output as unknown as NodeJS.WriteStream };
}

/** A plausible synthetic table of `count` rows: mostly ESTABLISHED, some CLOSE_WAIT in one leaking process, SYN_SENT to one dead peer. */
export function syntheticRows(count: number): SocketRow[] {
  const STATES = ['ESTABLISHED', 'ESTABLISHED', 'ESTABLISHED', 'ESTABLISHED', 'ESTABLISHED', 'ESTABLISHED', 'TIME_WAIT', 'CLOSE_WAIT', 'FIN_WAIT_2', 'SYN_SENT'] as const;
  return Array.from({ length: count }, (_, i) => {
    const state = STATES[i % STATES.length]!;
    return {
      protocol: 'tcp',
      local: { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 1024 + (i % 60000) },
      remote: { address: state === 'SYN_SENT' ? '10.99.0.1' : `172.16.${(i >> 8) & 255}.${i & 255}`, port: state === 'SYN_SENT' ? 443 : 5432 },
      state,
      rawState: state,
      pid: state === 'CLOSE_WAIT' ? 4242 : 1000 + (i % 500),
      process: state === 'CLOSE_WAIT' ? 'leaky-java' : `worker-${i % 500}`,
      activity: { lastSendAgoMs: (i % 7200) * 1000, lastReceiveAgoMs: (i % 7200) * 1000, lastPeerSegmentAgoMs: (i % 120) * 1000 },
    };
  });
}

/** Median ms of each dashboard step over `rounds`, on these views: the model steps, one screenful's formatting, and a blessed frame. */
export function measureDashboardSteps(views: readonly ConnectionView[], rounds: number): [string, number][] {
  function time(label: string, step: () => unknown): [string, number] {
    const samples: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const start = performance.now();
      step();
      samples.push(performance.now() - start);
    }
    return [label, median(samples)];
  }
  const screen = blessed.screen({ ...nullTerminal(), terminal: 'xterm-256color', smartCSR: true, fullUnicode: true, warnings: false });
  const table = blessed.box({ parent: screen, top: 4, left: 0, width: '100%', height: 36, tags: true, border: { type: 'line' } });
  const columns = connectionColumns(120);
  let offset = 0;
  const sorted = sortViews(views, 'flag');
  const frame = () => {
    // A keypress: move one row, format the visible window, draw.
    offset = (offset + 1) % Math.max(1, sorted.length - 40);
    const window = visibleWindow(sorted, { selected: offset, offset }, 33);
    table.setContent([connectionHeader(columns, colorPaint), ...window.map((v, i) => connectionLine(v, columns, i === 0, colorPaint))].join('\n'));
    screen.render();
  };
  try {
    return [
      time('filter ("close-wait")', () => views.filter(compileFilter('close-wait'))),
      time('filter (process text "java")', () => views.filter(compileFilter('java'))),
      time('sort (flagged first)', () => sortViews(views, 'flag')),
      time('sort (by remote)', () => sortViews(views, 'remote')),
      time('group by process', () => groupViews(views, 'process')),
      time('format one screen (33 rows)', () => visibleWindow(sorted, { selected: 500, offset: 500 }, 33).map((v) => connectionLine(v, columns, false, colorPaint))),
      time('frame: move + format + blessed render', frame),
    ];
  } finally {
    screen.destroy();
  }
}

/**
 * Runs the real `tcpdwell dashboard` (runCli from dist/, as bin/tcpdwell does) on a null 120×40
 * terminal for a first poll and then `polls` polls, and measures those. A poll is counted when the
 * poll loop starts its wait for the next one (the clock's sleep). Rejects when the command
 * ends early (its exit code and stderr are in the message).
 */
export async function measureLiveDashboard(options: { polls: number; intervalMs: number; source: string; heapSnapshot?: string }): Promise<ProcessFigures & { baselineRssKb: number }> {
  const baselineRssKb = readMemoryKb('self').vmRssKb;
  const { runCli } = (await import(new URL('../dist/cli/run.js', import.meta.url).href)) as typeof import('../src/cli/run.js');
  const { nodePlatform } = (await import(new URL('../dist/platform/platform.js', import.meta.url).href)) as typeof import('../src/platform/platform.js');
  const { systemClock } = (await import(new URL('../dist/app/poll-loop.js', import.meta.url).href)) as typeof import('../src/app/poll-loop.js');
  const interrupt = new AbortController();
  const terminal = nullTerminal();
  let stderr = '';
  let waits = 0;
  let startCpu = 0;
  let endCpu = 0;
  const cpuNow = () => totalCpuMs(readCpuMs('self'));
  const code = await runCli(
    ['dashboard', '--source', options.source, '--interval', `${options.intervalMs}ms`],
    {
      platform: nodePlatform({ interrupt: interrupt.signal }),
      stdout: terminal.output,
      stderr: { write: (text: string) => (stderr += text) },
      env: { ...process.env, TERM: 'xterm-256color' },
      sleep: (ms, signal = interrupt.signal) => {
        // The poll loop waits once after each poll (no keys arrive here to wake it early).
        waits++;
        if (process.env.BENCH_DEBUG) process.stderr.write(`wait ${ms} at ${performance.now().toFixed(0)} cpu ${cpuNow()}\n`);
        if (waits === 1) startCpu = cpuNow();
        if (waits === options.polls + 1) {
          endCpu = cpuNow();
          // The dashboard's heap while it is still running (its state, views, screen): a snapshot
          // is taken after a full GC, so it holds what is live, not the garbage.
          if (options.heapSnapshot) writeHeapSnapshot(options.heapSnapshot);
          interrupt.abort();
        }
        return systemClock.sleep(ms, signal);
      },
      interrupt: interrupt.signal,
      stop: () => interrupt.abort(),
      terminal,
      onHangup: () => () => undefined,
    },
    'bench',
  );
  if (waits < options.polls + 1) throw new Error(`the dashboard ended after ${waits} polls (exit ${code}): ${stderr.trim().split('\n').pop() ?? ''}`);
  return { cpuPerPollMs: (endCpu - startCpu) / options.polls, polls: options.polls, peakRssKb: readMemoryKb('self').vmHwmKb, baselineRssKb };
}

async function synthetic(count: number, rounds: number): Promise<void> {
  const rows = syntheticRows(count);
  const t0 = Date.parse('2026-11-21T05:30:00Z');
  const rssBefore = process.memoryUsage().rss;
  const tracker = advance(advance(emptyTrackerState(), { takenAtMs: t0, rows, completeProtocols: ['tcp', 'tcp6'] }).state, { takenAtMs: t0 + 60_000, rows, completeProtocols: ['tcp', 'tcp6'] }).state;
  const evaluation = evaluateAll(tracker, t0 + 60_000, defaultPolicy('ios'));
  const results = measureDashboardSteps(evaluation.views, rounds);
  const rss = process.memoryUsage().rss;
  console.log(`\n${count.toLocaleString('en')} tracked connections, ${rounds} rounds, medians (node ${process.version})\n`);
  console.log('| step | ms |');
  console.log('|---|---|');
  for (const [label, ms] of results) console.log(`| ${label} | ${ms.toFixed(2)} |`);
  console.log(`\nRSS with the tracker, evaluation and screen: ${(rss / 2 ** 20).toFixed(0)} MB (process before the population: ${(rssBefore / 2 ** 20).toFixed(0)} MB)`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '20' },
      live: { type: 'boolean', default: false },
      polls: { type: 'string', default: '5' },
      interval: { type: 'string', default: '2000' },
      source: { type: 'string', default: 'auto' },
      'heap-snapshot': { type: 'string' },
    },
  });
  if (values.live) {
    const figures = await measureLiveDashboard({
      polls: Number(values.polls),
      intervalMs: Number(values.interval),
      source: values.source!,
      ...(values['heap-snapshot'] ? { heapSnapshot: values['heap-snapshot'] } : {}),
    });
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } else await synthetic(Number(values.connections), Number(values.rounds));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
