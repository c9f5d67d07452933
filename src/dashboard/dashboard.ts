import { hostname } from 'node:os';
import { createRequire } from 'node:module';
import blessed from 'blessed';
import type { Monitor, PollOutcome } from '../app/monitor.js';
import { PollLoop, systemClock, type PollClock } from '../app/poll-loop.js';
import { diagnoseAll, type HostFacts } from '../core/diagnosis.js';
import { countStates, type ConnectionView, type Evaluation } from '../core/evaluate.js';
import { thresholdsFor, type Policy } from '../core/policy.js';
import { formatConnectionStory } from '../output/explain.js';
import {
  GROUPINGS,
  SORT_KEYS,
  clampCursor,
  compileFilter,
  filterNeedsOwners,
  followSelection,
  groupViews,
  moveCursor,
  nextOf,
  sortViews,
  visibleWindow,
  type Cursor,
  type GroupRow,
  type Grouping,
  type Move,
  type SortKey,
} from './model.js';
import { HELP_TEXT, colorPaint, connectionColumns, connectionHeader, connectionLine, escapeTags, groupHeader, groupLine, headerLines, plainPaint, sparkline, stateBars, type Paint } from './render.js';
import { TrendHistory } from './trend.js';

// The live dashboard (blessed + blessed-contrib). Polls run on the app's poll loop: async, never
// overlapping, a tick that comes while a poll runs is skipped. Only the visible rows are formatted. The terminal is
// restored on quit, on a signal, and on an exception.

const require = createRequire(import.meta.url);
// The chart widgets alone: blessed-contrib's index loads every widget (maps, pictures, markdown).
type ContribWidget = blessed.Widgets.BoxElement & { setData(data: unknown): void };
const contribBar = require('blessed-contrib/lib/widget/charts/bar.js') as (options: Record<string, unknown>) => ContribWidget;
const contribLine = require('blessed-contrib/lib/widget/charts/line.js') as (options: Record<string, unknown>) => ContribWidget;

export const INTERVAL_STEPS_MS = [500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

export interface DashboardIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  terminal: string;
  noColor: boolean;
  interrupt: AbortSignal;
}

export interface DashboardSettings {
  monitor: Monitor;
  policy: Policy;
  intervalMs: number;
  facts: HostFacts;
  /** Called after each poll (the event log); `evaluation` is absent when the poll failed. */
  afterPoll?: (outcome: PollOutcome, evaluation: Evaluation | undefined) => Promise<void>;
  /** Time for the poll loop; the real clock unless a test gives another. */
  clock?: PollClock;
}

const BAR_STATES: [string, string][] = [
  ['LISTEN', 'LSTN'],
  ['ESTABLISHED', 'ESTB'],
  ['SYN_SENT', 'SYNS'],
  ['SYN_RECEIVED', 'SYNR'],
  ['FIN_WAIT_1', 'FW1'],
  ['FIN_WAIT_2', 'FW2'],
  ['CLOSE_WAIT', 'CLWT'],
  ['LAST_ACK', 'LACK'],
  ['TIME_WAIT', 'TMWT'],
];

export async function runDashboard(settings: DashboardSettings, io: DashboardIo): Promise<void> {
  const screen = blessed.screen({
    input: io.input as NodeJS.ReadStream,
    output: io.output as NodeJS.WriteStream,
    terminal: io.terminal,
    smartCSR: true,
    fullUnicode: true,
    autoPadding: false,
    warnings: false,
    title: 'tcpdwell',
  });
  // Whatever happens, the terminal comes back: alternate screen left, cursor shown, modes reset.
  const restore = () => {
    try {
      screen.destroy();
    } catch {
      // already destroyed
    }
  };
  process.once('exit', restore);
  try {
    await new Dashboard(screen, settings, io).run();
  } finally {
    process.removeListener('exit', restore);
    restore();
  }
}

class Dashboard {
  private readonly paint: Paint;
  private readonly header: blessed.Widgets.BoxElement;
  private readonly table: blessed.Widgets.BoxElement;
  private readonly detail: blessed.Widgets.BoxElement;
  private readonly help: blessed.Widgets.BoxElement;
  private readonly prompt: blessed.Widgets.TextboxElement;
  private bar: ContribWidget | undefined;
  private trendChart: ContribWidget | undefined;
  /** NO_COLOR: the charts as plain text (blessed-contrib's canvases always colour). */
  private textCharts: [blessed.Widgets.BoxElement, blessed.Widgets.BoxElement] | undefined;
  private readonly trend = new TrendHistory(120);

  private evaluation: Evaluation | undefined;
  private lastOutcome: PollOutcome | undefined;
  private failure: string | undefined;
  private shown: ConnectionView[] = [];
  private groups: GroupRow[] = [];
  private cursor: Cursor = { selected: 0, offset: 0 };
  private sort: SortKey = 'flag';
  private grouping: Grouping = 'none';
  private filter = '';
  private flaggedOnly = false;
  private paused = false;
  private intervalMs: number;
  private loop: PollLoop | undefined;
  private quit: (() => void) | undefined;

  constructor(
    private readonly screen: blessed.Widgets.Screen,
    private readonly settings: DashboardSettings,
    private readonly io: DashboardIo,
  ) {
    this.paint = io.noColor ? plainPaint : colorPaint;
    this.intervalMs = settings.intervalMs;
    const border = { type: 'line' as const };
    const style = io.noColor ? {} : { border: { fg: 'gray' } };
    this.header = blessed.box({ parent: screen, top: 0, left: 0, width: '100%', height: 4, tags: true });
    this.table = blessed.box({ parent: screen, left: 0, width: '100%', tags: true, border, style, label: ' connections ' });
    this.detail = blessed.box({ parent: screen, top: 'center', left: 'center', width: '90%', height: '80%', tags: true, border, style, hidden: true, scrollable: true, alwaysScroll: true, keys: true, label: ' connection (Enter or Esc to close) ' });
    this.help = blessed.box({ parent: screen, top: 'center', left: 'center', width: 84, height: 16, tags: false, border, style, hidden: true, content: HELP_TEXT, label: ' help (any key to close) ' });
    this.prompt = blessed.textbox({ parent: screen, bottom: 0, left: 0, width: '100%', height: 1, inputOnFocus: true, hidden: true, style: io.noColor ? {} : { fg: 'black', bg: 'cyan' } });
    this.layout();
    this.bindKeys();
    screen.on('resize', () => {
      this.layout();
      this.draw();
    });
  }

  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // An exception in a blessed callback would otherwise kill the process with the terminal
      // still in raw mode: it ends the dashboard instead, and the caller restores the terminal.
      const crash = (error: unknown) => finish(error instanceof Error ? error : new Error(String(error)));
      const stop = new AbortController();
      const finish = (error?: Error) => {
        stop.abort();
        process.removeListener('uncaughtException', crash);
        process.removeListener('unhandledRejection', crash);
        if (error) reject(error);
        else resolve();
      };
      process.on('uncaughtException', crash);
      process.on('unhandledRejection', crash);
      this.quit = () => finish();
      this.io.interrupt.addEventListener('abort', () => this.quit?.(), { once: true });
      this.loop = new PollLoop({ clock: this.settings.clock ?? systemClock, signal: stop.signal, intervalMs: () => this.intervalMs, paused: () => this.paused, failureReporting: 'none' });
      this.loop.run({ poll: () => this.settings.monitor.poll(), onPoll: (outcome) => this.onPoll(outcome) }).then(() => finish(), crash);
    });
  }

  /** Charts only where there is room: an 80×24 terminal keeps 13 table rows. */
  private layout(): void {
    const height = Number(this.screen.height);
    const chartsHeight = height >= 24 ? Math.min(10, Math.floor(height / 4)) : 0;
    this.bar?.destroy();
    this.trendChart?.destroy();
    this.textCharts?.forEach((box) => box.destroy());
    this.bar = undefined;
    this.trendChart = undefined;
    this.textCharts = undefined;
    if (chartsHeight > 0 && this.io.noColor) {
      this.textCharts = [
        blessed.box({ parent: this.screen, top: 4, left: 0, width: '45%', height: chartsHeight, border: { type: 'line' }, label: ' states ' }),
        blessed.box({ parent: this.screen, top: 4, left: '45%', width: '55%', height: chartsHeight, border: { type: 'line' }, label: ' trend ' }),
      ];
    } else if (chartsHeight > 0) {
      const noColor = this.io.noColor;
      // contrib canvases size themselves on 'attach': append after construction, never via `parent`.
      this.bar = contribBar({ top: 4, left: 0, width: '45%', height: chartsHeight, label: ' states ', barWidth: 4, barSpacing: 6, xOffset: 1, maxHeight: 1, border: { type: 'line' }, style: noColor ? {} : { border: { fg: 'gray' } }, barBgColor: noColor ? 'white' : 'blue' });
      this.trendChart = contribLine({ top: 4, left: '45%', width: '55%', height: chartsHeight, label: ' trend (flagged, CLOSE_WAIT, SYN_SENT) ', showLegend: false, minY: 0, wholeNumbersOnly: true, border: { type: 'line' }, style: noColor ? { line: 'white', text: 'white', baseline: 'white' } : { line: 'yellow', text: 'green', baseline: 'white', border: { fg: 'gray' } } });
    }
    if (this.bar && this.trendChart) {
      this.screen.append(this.bar);
      this.screen.append(this.trendChart);
    }
    this.table.top = 4 + chartsHeight;
    this.table.height = Math.max(3, height - 4 - chartsHeight);
  }

  private bindKeys(): void {
    const s = this.screen;
    s.key(['q', 'C-c'], () => {
      if (!this.prompt.hidden) return;
      this.quit?.();
    });
    const moves: [string[], Move][] = [
      [['up', 'k'], 'up'],
      [['down', 'j'], 'down'],
      [['pageup'], 'page-up'],
      [['pagedown'], 'page-down'],
      [['home'], 'home'],
      [['end'], 'end'],
    ];
    for (const [keys, move] of moves) {
      s.key(keys, () => {
        if (!this.detail.hidden) {
          this.detail.scroll(move === 'up' ? -1 : move === 'down' ? 1 : move === 'page-up' ? -10 : 10);
          this.screen.render();
          return;
        }
        if (!this.idle()) return;
        this.cursor = moveCursor(this.cursor, move, this.rowCount(), this.visibleRows());
        this.draw();
      });
    }
    s.key(['enter'], () => {
      if (!this.prompt.hidden) return;
      if (!this.detail.hidden) return this.closeOverlay(this.detail);
      if (!this.help.hidden) return this.closeOverlay(this.help);
      if (this.grouping !== 'none') {
        // A group opens as a filter on its key.
        const group = this.groups[this.cursor.selected];
        if (group) {
          // Narrows what is already filtered: by pid for a process, by port, or by address.
          const token = this.grouping === 'local-port' ? `:${group.key}` : this.grouping === 'process' ? (/\[(\d+)\]$/.exec(group.key)?.[1] ?? group.key) : group.key;
          this.filter = `${this.filter} ${token}`.trim();
          this.grouping = 'none';
          this.cursor = { selected: 0, offset: 0 };
          this.refresh();
        }
        return;
      }
      this.showDetail();
    });
    s.key(['escape'], () => {
      if (!this.detail.hidden) this.closeOverlay(this.detail);
      else if (!this.help.hidden) this.closeOverlay(this.help);
    });
    s.key(['?'], () => {
      if (!this.idle()) return;
      this.help.show();
      this.help.setFront();
      this.screen.render();
    });
    s.on('keypress', (_ch: string, key: { full?: string }) => {
      if (!this.help.hidden && key.full !== '?') this.closeOverlay(this.help);
    });
    s.key(['/'], () => {
      if (!this.idle()) return;
      this.prompt.setValue(this.filter);
      this.prompt.show();
      this.prompt.setFront();
      this.screen.render();
      this.prompt.readInput((_error: unknown, value?: string | null) => {
        this.prompt.hide();
        if (value !== undefined && value !== null) {
          this.filter = value.trim();
          this.cursor = { selected: 0, offset: 0 };
        }
        this.refresh();
      });
    });
    s.key(['s'], () => this.ifIdle(() => (this.sort = nextOf(SORT_KEYS, this.sort))));
    s.key(['f'], () => this.ifIdle(() => (this.flaggedOnly = !this.flaggedOnly)));
    s.key(['g'], () =>
      this.ifIdle(() => {
        this.grouping = nextOf(GROUPINGS, this.grouping);
        this.cursor = { selected: 0, offset: 0 };
      }),
    );
    s.key(['p'], () =>
      this.ifIdle(() => {
        this.paused = !this.paused;
        if (!this.paused) this.loop?.wake();
      }),
    );
    s.key(['+', '='], () => this.ifIdle(() => (this.intervalMs = INTERVAL_STEPS_MS.find((ms) => ms > this.intervalMs) ?? this.intervalMs)));
    s.key(['-', '_'], () => this.ifIdle(() => (this.intervalMs = [...INTERVAL_STEPS_MS].reverse().find((ms) => ms < this.intervalMs) ?? this.intervalMs)));
  }

  /** No overlay or prompt open: the table keys act. */
  private idle(): boolean {
    return this.prompt.hidden && this.detail.hidden && this.help.hidden;
  }

  private ifIdle(change: () => void): void {
    if (!this.idle()) return;
    change();
    this.refresh();
  }

  private closeOverlay(box: blessed.Widgets.BoxElement): void {
    box.hide();
    this.screen.render();
  }

  private async onPoll(outcome: PollOutcome): Promise<void> {
    this.lastOutcome = outcome;
    if (outcome.ok) {
      this.failure = undefined;
      // Unranked: refresh() sorts by the chosen column anyway.
      const { evaluation } = await this.settings.monitor.evaluate(this.settings.policy, (e) => (this.needsEveryOwner() ? e.views : this.visibleViews()), {
        ranked: false,
      });
      this.evaluation = evaluation;
      this.trend.add(outcome.takenAtMs, evaluation);
      await this.settings.afterPoll?.(outcome, evaluation);
    } else {
      // A failed read clears nothing (docs/tcp-facts.md#session-classes); the banner says the data is old.
      this.failure = outcome.error ?? 'the socket table could not be read';
      await this.settings.afterPoll?.(outcome, undefined);
    }
    if (this.settings.monitor.pendingCaptures === 0 && this.settings.monitor.describesThisHost === false) this.paused = true;
    this.refresh();
  }

  /** Process text in the filter, or grouping by process: every row needs its owner, not only the visible ones. */
  private needsEveryOwner(): boolean {
    return this.grouping === 'process' || filterNeedsOwners(this.filter);
  }

  private visibleViews(): ConnectionView[] {
    return this.grouping === 'none' ? visibleWindow(this.shown, this.cursor, this.visibleRows()) : [];
  }

  private rowCount(): number {
    return this.grouping === 'none' ? this.shown.length : this.groups.length;
  }

  private visibleRows(): number {
    return Math.max(1, Number(this.table.height) - 3); // borders and the column header
  }

  /** Recomputes filter, sort and grouping, then draws. */
  private refresh(): void {
    const selectedKey = this.grouping === 'none' ? this.shown[this.cursor.selected]?.connection.key : undefined;
    const views = this.evaluation?.views ?? [];
    const matches = compileFilter(this.filter);
    const filtered = views.filter((v) => (!this.flaggedOnly || v.flag) && matches(v));
    this.shown = sortViews(filtered, this.sort);
    if (this.grouping === 'none') {
      this.groups = [];
      this.cursor = followSelection(selectedKey, this.shown, this.cursor, this.visibleRows());
    } else {
      this.groups = groupViews(filtered, this.grouping);
      this.cursor = clampCursor(this.cursor, this.groups.length, this.visibleRows());
    }
    this.draw();
  }

  private draw(): void {
    const width = Number(this.screen.width);
    const thresholds = this.settings.policy.warning;
    const lines = headerLines(
      {
        host: hostname(),
        source: this.settings.monitor.sourceName,
        intervalMs: this.intervalMs,
        paused: this.paused,
        ...(this.lastOutcome?.ok || this.evaluation ? { lastPollAtMs: this.settings.monitor.tracker.lastPollMs ?? this.lastOutcome?.takenAtMs } : {}),
        ...(this.lastOutcome ? { lastPollCostMs: this.lastOutcome.durationMs } : {}),
        ...(this.evaluation ? { evaluation: this.evaluation } : {}),
        ...(this.failure ? { failure: this.failure } : {}),
        thresholds,
        sort: this.sort,
      },
      width,
      this.paint,
    );
    this.header.height = lines.length;
    this.header.setContent(lines.join('\n'));

    const height = this.visibleRows();
    this.cursor = clampCursor(this.cursor, this.rowCount(), height);
    let body: string[];
    if (this.grouping === 'none') {
      const columns = connectionColumns(width);
      const window = visibleWindow(this.shown, this.cursor, height);
      body = [connectionHeader(columns, this.paint), ...window.map((v, i) => connectionLine(v, columns, this.cursor.offset + i === this.cursor.selected, this.paint))];
      if (this.shown.length === 0) body.push(escapeTags(this.evaluation ? '(no connection matches)' : '(first poll running)'));
    } else {
      const window = visibleWindow(this.groups, this.cursor, height);
      body = [groupHeader(this.grouping, width, this.paint), ...window.map((g, i) => groupLine(g, width, this.cursor.offset + i === this.cursor.selected, this.paint))];
    }
    const position = this.rowCount() ? `${this.cursor.selected + 1}/${this.rowCount()}` : '0';
    const narrowed = `${this.flaggedOnly ? ' flagged only' : ''}${this.filter ? ` filter "${this.filter}"` : ''}`;
    this.table.setLabel(` ${this.grouping === 'none' ? 'connections' : `by ${this.grouping}`} ${position}${narrowed} `);
    this.table.setContent(body.join('\n'));
    this.drawCharts();
    this.screen.render();
  }

  private drawCharts(): void {
    if (!this.evaluation) return;
    const counts: Map<string, number> = countStates(this.evaluation.views);
    if (this.textCharts) {
      const [statesBox, trendBox] = this.textCharts;
      const rows = Number(statesBox.height) - 2;
      const present = BAR_STATES.filter(([state]) => (counts.get(state) ?? 0) > 0).slice(0, rows);
      statesBox.setContent(stateBars(present.map(([state, short]) => [short, counts.get(state) ?? 0]), Number(statesBox.width) - 2).join('\n'));
      const series = this.trend.series();
      const width = Number(trendBox.width) - 14;
      trendBox.setContent(
        [
          `flagged    ${sparkline(series.flagged, width)} ${series.flagged.at(-1) ?? 0}`,
          `CLOSE_WAIT ${sparkline(series.closeWait, width)} ${series.closeWait.at(-1) ?? 0}`,
          `SYN_SENT   ${sparkline(series.synSent, width)} ${series.synSent.at(-1) ?? 0}`,
        ].join('\n'),
      );
      return;
    }
    if (!this.bar || !this.trendChart) return;
    const fits = Math.max(1, Math.floor((Number(this.bar.width) - 3) / 6));
    const bars = BAR_STATES.filter(([state]) => (counts.get(state) ?? 0) > 0 || state === 'ESTABLISHED').slice(0, fits);
    this.bar.setData({ titles: bars.map(([, short]) => short), data: bars.map(([state]) => counts.get(state) ?? 0) });
    const series = this.trend.series();
    if (series.labels.length >= 2) {
      this.trendChart.setData([
        { title: 'flagged', x: series.labels, y: series.flagged, style: { line: this.io.noColor ? 'white' : 'red' } },
        { title: 'CLOSE_WAIT', x: series.labels, y: series.closeWait, style: { line: this.io.noColor ? 'white' : 'yellow' } },
        { title: 'SYN_SENT', x: series.labels, y: series.synSent, style: { line: this.io.noColor ? 'white' : 'cyan' } },
      ]);
    }
  }

  private showDetail(): void {
    const view = this.shown[this.cursor.selected];
    if (!view || !this.evaluation) return;
    const diagnosis = diagnoseAll(this.evaluation.views, this.settings.facts, (v) => v === view);
    const finding = diagnosis.byConnection.get(view.connection.key);
    const text = finding ? formatConnectionStory(view, finding, thresholdsFor(this.settings.policy, view.row)) : `${view.row.state}`;
    this.detail.setContent(escapeTags(text));
    this.detail.scrollTo(0);
    this.detail.show();
    this.detail.setFront();
    this.screen.render();
  }
}
