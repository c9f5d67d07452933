// The benchmark's figures and their Markdown table (pure: numbers in, text out), so the README's
// Performance table is exactly what `npm run bench -- --markdown` prints.

/** The median of the samples; NaN for none (a figure never read is never 0). */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One command's cost: CPU (its own and its children's, ms) and wall time (ms); medians over the rounds. */
export interface Cost {
  cpuMs: number;
  wallMs: number;
}

/** A long-running process (serve, watch, the dashboard) or a one-shot command, measured; `failed` says why there is no figure. */
export interface ProcessFigures {
  /** CPU per poll, children included (ms): the process's CPU over the measured polls ÷ their count. */
  cpuPerPollMs?: number;
  /** Wall time of one poll (ms), median. */
  pollWallMs?: number;
  /** Peak RSS (VmHWM, KiB). */
  peakRssKb?: number;
  /** Polls the CPU was divided by. */
  polls?: number;
  failed?: string;
  /** What else the reader must know about these figures (shown in the comparison column). */
  note?: string;
}

/** serve with one `--source`. */
export interface ServeFigures extends ProcessFigures {
  /** The `--source` value. */
  source: string;
  /** The source its polls read (auto's choice; serve's tcpdwell_up label). */
  readSource?: string;
}

/** One population's figures. */
export interface SizeFigures {
  /** Sockets in the population (what populate-sockets.py made). */
  sockets: number;
  /** `ss -tanoi`, its output read through a pipe: the peer of serve's poll. */
  ssTanoi?: Cost;
  serve: ServeFigures[];
  systeminformation?: Cost;
  watch?: ProcessFigures;
  checkWindow?: ProcessFigures;
  dashboard?: ProcessFigures;
  /** One-shot commands, whole process: the sizes given to --one-shot-sizes. */
  oneShot?: {
    nodeStart: Cost;
    ssTanoip: Cost;
    ssTanoi: Cost;
    list: Cost & { peakRssKb?: number };
    check: Cost & { peakRssKb?: number };
  };
}

/** The machine and the run, for the line above the table. */
export interface RunFacts {
  date: string;
  kernel: string;
  cores: number;
  cpuModel: string;
  node: string;
  ss: string;
  /** 1-minute load average when the run started and when it ended. */
  loadStart: number;
  loadEnd: number;
  intervalMs: number;
  /** Polls measured per watch, check --window and dashboard (after a first poll). */
  polls: number;
  /** Polls measured per serve (after a first and a warm-up poll). */
  servePolls: number;
  /** Runs of each one-shot command. */
  rounds: number;
  minutes: number;
}

const ms = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? '—' : value < 10 ? value.toFixed(1) : value.toFixed(0));
const mb = (kb: number | undefined) => (kb === undefined ? '—' : (kb / 1024).toFixed(0));
const times = (value: number) => (Number.isFinite(value) ? `${value < 10 ? value.toFixed(2) : value.toFixed(1)}×` : '—');

/** `part ÷ whole` as "0.23× what", or '—' when either is missing or the peer is 0 (too quick for the clock's ticks). */
export function ratio(part: number | undefined, whole: number | undefined, what: string): string {
  if (part === undefined || whole === undefined || Number.isNaN(part) || Number.isNaN(whole) || whole === 0) return '—';
  return `${times(part / whole)} ${what}`;
}

/** `slow ÷ fast` as "12.3× slower than X": how many times faster `fast` is. */
function faster(fast: number | undefined, slow: number | undefined, than: string): string {
  if (fast === undefined || slow === undefined || Number.isNaN(fast) || Number.isNaN(slow) || fast === 0) return '—';
  return `${than} ${times(slow / fast)} faster`;
}

type Row = [measure: string, cpu: string, wall: string, rss: string, against: string, target: string];

function sizeRows(size: SizeFigures): Row[] {
  const rows: Row[] = [];
  const peer = size.ssTanoi;
  if (peer) rows.push(['`ss -tanoi`, one run (the peer)', ms(peer.cpuMs), ms(peer.wallMs), '—', '—', '—']);
  for (const serve of size.serve) {
    const name = `serve --source ${serve.source}${serve.readSource && serve.readSource !== serve.source ? ` (read ${serve.readSource})` : ''}, per poll`;
    if (serve.failed) {
      rows.push([name, '—', '—', '—', `failed: ${serve.failed}`, '—']);
      continue;
    }
    const isDefault = serve.source === 'auto';
    rows.push([name, ms(serve.cpuPerPollMs), ms(serve.pollWallMs), mb(serve.peakRssKb), `CPU ${ratio(serve.cpuPerPollMs, peer?.cpuMs, '`ss -tanoi`')}`, isDefault ? 'CPU ≤ 0.25×, RSS ≤ 150 MB' : '—']);
  }
  const auto = size.serve.find((s) => s.source === 'auto' && !s.failed);
  if (size.systeminformation)
    rows.push([
      '`systeminformation.networkConnections()`',
      ms(size.systeminformation.cpuMs),
      ms(size.systeminformation.wallMs),
      '—',
      faster(auto?.pollWallMs, size.systeminformation.wallMs, 'serve --source auto poll'),
      '≥ 10× faster',
    ]);
  const addProcess = (name: string, figures: ProcessFigures | undefined, target: string) => {
    if (!figures) return;
    if (figures.failed) rows.push([name, '—', '—', '—', `failed: ${figures.failed}`, target]);
    else rows.push([name, ms(figures.cpuPerPollMs), ms(figures.pollWallMs), mb(figures.peakRssKb), figures.note ?? '—', target]);
  };
  addProcess(`watch, per poll (${size.watch?.polls ?? '?'} polls, whole process)`, size.watch, 'RSS ≤ 150 MB');
  addProcess(`check --no-state --window, per poll (${size.checkWindow?.polls ?? '?'} polls, whole process)`, size.checkWindow, 'RSS ≤ 150 MB');
  addProcess(`dashboard, per poll (${size.dashboard?.polls ?? '?'} polls)`, size.dashboard, 'RSS ≤ 250 MB');
  const one = size.oneShot;
  if (one) {
    // "After node's start-up": the targets are about tcpdwell's work, so a bare node's start is taken off both sides of nothing but tcpdwell.
    const net = (cost: Cost) => cost.wallMs - one.nodeStart.wallMs;
    rows.push(['`node -e 0` (node start-up)', ms(one.nodeStart.cpuMs), ms(one.nodeStart.wallMs), '—', '—', '—']);
    rows.push(['`ss -tanoip` (walks /proc for owners)', ms(one.ssTanoip.cpuMs), ms(one.ssTanoip.wallMs), '—', '—', '—']);
    const command = (name: string, cost: Cost & { peakRssKb?: number }, peer: Cost, peerName: string): Row => [
      `${name}, whole process`,
      ms(cost.cpuMs),
      ms(cost.wallMs),
      mb(cost.peakRssKb),
      `wall after start-up ${ratio(net(cost), peer.wallMs, peerName)}`,
      '≤ 1.5× at 40,000',
    ];
    rows.push(command('`list --json`', one.list, one.ssTanoip, '`ss -tanoip`'), command('`check --no-state`', one.check, one.ssTanoi, '`ss -tanoi`'));
  }
  return rows;
}

/** The Markdown the README's Performance section reproduces: the run's line, then one table of every size. */
export function formatBenchReport(facts: RunFacts, sizes: readonly SizeFigures[]): string {
  const lines = [
    `Measured ${facts.date} on Linux ${facts.kernel}, ${facts.cores} × ${facts.cpuModel}, Node ${facts.node}, ${facts.ss}; ` +
      `load average ${facts.loadStart.toFixed(2)} at the start, ${facts.loadEnd.toFixed(2)} at the end; ${facts.minutes.toFixed(1)} min. ` +
      `serve, watch, check and the dashboard poll every ${facts.intervalMs / 1000} s; their CPU is the process's (children and threads included, from /proc/PID/stat) ÷ the polls: serve's over ${facts.servePolls} polls after a warm-up poll, the others' as the row says; ` +
      `one-shot figures are medians of ${facts.rounds} runs, alternating.`,
    '',
    '| sockets | measure | CPU ms | wall ms | peak RSS MB | against the peer in this run | target at 100,000 sockets |',
    '|---:|---|---:|---:|---:|---|---|',
  ];
  for (const size of sizes) for (const row of sizeRows(size)) lines.push(`| ${size.sockets.toLocaleString('en')} | ${row.join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}

/** The README's markers around the table `npm run bench -- --readme` writes. */
export const README_MARKERS = ['<!-- npm run bench -- --readme: from here -->', '<!-- npm run bench -- --readme: to here -->'] as const;

/** `text` with what lies between the README markers replaced by `report`; throws when they are not there once each, in order. */
export function replaceBetweenMarkers(text: string, report: string): string {
  const [open, close] = README_MARKERS;
  const from = text.indexOf(open);
  const to = text.indexOf(close);
  if (from < 0 || to < from || text.indexOf(open, from + 1) >= 0 || text.indexOf(close, to + 1) >= 0) throw new Error(`README.md needs the lines ${open} and ${close}, once each, in that order`);
  return `${text.slice(0, from + open.length)}\n\n${report.trimEnd()}\n\n${text.slice(to)}`;
}
