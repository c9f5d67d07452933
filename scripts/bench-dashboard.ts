// npm run bench:dashboard [-- --connections 100000 --rounds 20]
//
// The dashboard's cost with a synthetic tracker of N connections (no kernel, no root): the model
// steps it runs per poll or key (filter, sort, group), the formatting of one screenful, and a real
// blessed frame drawn to a 120×40 terminal that discards its output; memory with N tracked. Medians
// over the rounds. Prints a Markdown table (the README's dashboard section reproduces it).
import { Writable, PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import blessed from 'blessed';
import { defaultPolicy } from '../src/core/policy.js';
import { evaluateAll } from '../src/core/evaluate.js';
import type { SocketRow } from '../src/core/connection.js';
import { advance, emptyTrackerState } from '../src/core/tracker.js';
import { compileFilter, groupViews, sortViews, visibleWindow } from '../src/dashboard/model.js';
import { colorPaint, connectionColumns, connectionHeader, connectionLine } from '../src/dashboard/render.js';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '20' } } });
const count = Number(values.connections);
const rounds = Number(values.rounds);

// A plausible mix: mostly ESTABLISHED, some CLOSE_WAIT in one leaking process, SYN_SENT to one dead peer.
const STATES = ['ESTABLISHED', 'ESTABLISHED', 'ESTABLISHED', 'ESTABLISHED', 'ESTABLISHED', 'ESTABLISHED', 'TIME_WAIT', 'CLOSE_WAIT', 'FIN_WAIT_2', 'SYN_SENT'] as const;
const rows: SocketRow[] = Array.from({ length: count }, (_, i) => {
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
const t0 = Date.parse('2026-11-21T05:30:00Z');
const rssBefore = process.memoryUsage().rss;
const tracker = advance(advance(emptyTrackerState(), { takenAtMs: t0, rows, completeProtocols: ['tcp', 'tcp6'] }).state, { takenAtMs: t0 + 60_000, rows, completeProtocols: ['tcp', 'tcp6'] }).state;
const evaluation = evaluateAll(tracker, t0 + 60_000, defaultPolicy('ios'));
const views = evaluation.views;

function time(label: string, step: () => unknown): [string, number] {
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    step();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return [label, samples[Math.floor(samples.length / 2)]!];
}

// A real screen, 120×40, writing into nothing.
const output = Object.assign(new Writable({ write: (_c, _e, done) => done() }), { columns: 120, rows: 40, isTTY: true });
const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
const screen = blessed.screen({
  input: input as unknown as NodeJS.ReadStream,
  output: output as unknown as NodeJS.WriteStream,
  terminal: 'xterm-256color',
  smartCSR: true,
  fullUnicode: true,
  warnings: false,
});
const table = blessed.box({ parent: screen, top: 4, left: 0, width: '100%', height: 36, tags: true, border: { type: 'line' } });
const columns = connectionColumns(120);
let offset = 0;
const sorted = sortViews(views, 'flag');
const frame = () => {
  // A keypress: move one row, format the visible window, draw.
  offset = (offset + 1) % (sorted.length - 40);
  const window = visibleWindow(sorted, { selected: offset, offset }, 33);
  table.setContent([connectionHeader(columns, colorPaint), ...window.map((v, i) => connectionLine(v, columns, i === 0, colorPaint))].join('\n'));
  screen.render();
};

const results = [
  time('filter ("close-wait")', () => views.filter(compileFilter('close-wait'))),
  time('filter (process text "java")', () => views.filter(compileFilter('java'))),
  time('sort (flagged first)', () => sortViews(views, 'flag')),
  time('sort (by remote)', () => sortViews(views, 'remote')),
  time('group by process', () => groupViews(views, 'process')),
  time('format one screen (33 rows)', () => visibleWindow(sorted, { selected: 500, offset: 500 }, 33).map((v) => connectionLine(v, columns, false, colorPaint))),
  time('frame: move + format + blessed render', frame),
];
const rss = process.memoryUsage().rss;
screen.destroy();

console.log(`\n${count.toLocaleString('en')} tracked connections, ${rounds} rounds, medians (node ${process.version})\n`);
console.log('| step | ms |');
console.log('|---|---|');
for (const [label, ms] of results) console.log(`| ${label} | ${ms.toFixed(2)} |`);
console.log(`\nRSS with the tracker, evaluation and screen: ${(rss / 2 ** 20).toFixed(0)} MB (process before the population: ${(rssBefore / 2 ** 20).toFixed(0)} MB)`);
