import { hostname } from 'node:os';
import blessed from 'blessed';
import type { Monitor, PollOutcome } from '../app/monitor.js';
import { PollLoop, systemClock, type PollClock } from '../app/poll-loop.js';
import type { HostFacts } from '../core/diagnosis.js';
import { countStates, newViewPool, type ConnectionView, type Evaluation } from '../core/evaluate.js';
import type { Policy } from '../core/policy.js';
import { detailText } from './detail.js';
import {
  colorPaint,
  connectionColumns,
  connectionHeader,
  connectionLine,
  escapeTags,
  fit,
  groupHeader,
  groupLine,
  headerLines,
  helpView,
  plainPaint,
  promptLine,
  stateBars,
  type Paint,
} from './render.js';
import { spansNamespaces } from '../output/table.js';
import { wrapText } from './wrap.js';
import { MIN_SIZE, emptyTableText, initialState, layoutOf, ownersNeeded, reduce, tableLabel, visibleGroups, visibleViews, type Action, type DashboardState } from './state.js';
import { TREND_LEGEND, TrendHistory, trendLines } from './trend.js';

// The live dashboard: a thin blessed adapter over state.ts. Keys, polls and resizes become
// actions for reduce(); draw() paints the state. Polls run on the app's poll loop: async, never
// overlapping, a tick that comes while a poll runs is skipped. Only the visible rows are formatted. The terminal is
// restored on quit, on a signal, and on an exception.

export { INTERVAL_STEPS_MS } from './state.js';

export interface DashboardIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  terminal: string;
  noColor: boolean;
  interrupt: AbortSignal;
  /**
   * Called when the dashboard ends: aborts the reads under way (the `ss` of a slow poll is killed),
   * so quitting never waits for a poll. Without it a poll under way runs to its end or timeout.
   */
  stop?: () => void;
}

export interface DashboardSettings {
  monitor: Monitor;
  policy: Policy;
  intervalMs: number;
  /** Tiered polling (Monitor.pollInTiers): a census this often while the table shows flagged sessions only; every poll while it shows every state. */
  censusIntervalMs?: number;
  facts: HostFacts;
  /** Called after each poll (the event log); `evaluation` is absent when the poll failed. */
  afterPoll?: (outcome: PollOutcome, evaluation: Evaluation | undefined) => Promise<void>;
  /** Time for the poll loop; the real clock unless a test gives another. */
  clock?: PollClock;
  /**
   * Given, once the terminal is restored, every source notice the header said (each once, oldest
   * first): the front end writes them to stderr, as list, watch and serve say theirs.
   */
  reportNotices?: (notices: readonly string[]) => void;
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

/** How a dashboard run ended: `nothing-read` when no poll succeeded before the user quit (fail closed: never OK). */
export type DashboardResult = 'ok' | 'nothing-read';

export async function runDashboard(settings: DashboardSettings, io: DashboardIo): Promise<DashboardResult> {
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
  let dashboard: Dashboard | undefined;
  try {
    dashboard = new Dashboard(screen, settings, io);
    await dashboard.run();
    return dashboard.tableRead ? 'ok' : 'nothing-read';
  } finally {
    process.removeListener('exit', restore);
    restore();
    // Written after the terminal is back: on the alternate screen they would be drawn over.
    if (dashboard?.notices.length) settings.reportNotices?.(dashboard.notices);
  }
}

/** At most this many distinct notices are kept (a long run of changing ones: the oldest go). */
const MAX_NOTICES = 256;

class Dashboard {
  private state: DashboardState;
  private readonly paint: Paint;
  private readonly header: blessed.Widgets.BoxElement;
  private readonly statesBox: blessed.Widgets.BoxElement;
  private readonly trendBox: blessed.Widgets.BoxElement;
  private readonly table: blessed.Widgets.BoxElement;
  private readonly detail: blessed.Widgets.BoxElement;
  private readonly help: blessed.Widgets.BoxElement;
  private readonly prompt: blessed.Widgets.BoxElement;
  private readonly tooSmall: blessed.Widgets.BoxElement;
  private readonly trend = new TrendHistory(120);

  private evaluation: Evaluation | undefined;
  /** Connections per state in `evaluation`: counted once per evaluation, not at each key's redraw. */
  private stateCounts: Map<string, number> = new Map();
  /** Some poll read the table: a run that never did is not ended with "OK". */
  tableRead = false;
  private lastOutcome: PollOutcome | undefined;
  private failure: string | undefined;
  /** Every distinct source notice said since the start, oldest first (the header shows the latest). */
  readonly notices: string[] = [];
  /** What the poll whose data is shown could not read (PollOutcome.unread); empty: all read. */
  private unread: readonly string[] = [];
  /** Whose owners the last evaluation looked up: every row's, or these keys' (and the flagged). */
  private ownersLookedUp: 'all' | ReadonlySet<string> = new Set();
  /** An evaluation (a poll's, or an owner lookup between polls) under way: they never overlap. */
  private evaluating: Promise<Evaluation> | undefined;
  private ownersAgain = false;
  /**
   * Each connection's view, updated in place by each evaluation (core/evaluate EvaluateOptions.views):
   * every poll evaluates every row and the state holds the views until the next, so new ones
   * (two objects a row) were promoted at each poll.
   */
  private readonly views = newViewPool();
  /**
   * From the evaluation of a poll's views until its owners are added: the views the state shows
   * already hold the new poll's values, but the table's rows and order are still the last poll's,
   * so nothing is drawn until the state is derived from the new views (a draw asked for meanwhile
   * is made then).
   */
  private viewsRenewed = false;
  private loop: PollLoop | undefined;
  private quit: (() => void) | undefined;
  /** Ended: a poll cut short by the quit is neither drawn nor logged. */
  private stopped = false;

  constructor(
    private readonly screen: blessed.Widgets.Screen,
    private readonly settings: DashboardSettings,
    private readonly io: DashboardIo,
  ) {
    this.paint = io.noColor ? plainPaint : colorPaint;
    this.state = initialState(settings.intervalMs, Number(screen.width), Number(screen.height));
    // Borders in the terminal's own foreground: a fixed grey is bright black, which a console
    // (TERM=linux, 8 colours) draws as black on black.
    const border = { type: 'line' as const };
    this.header = blessed.box({ parent: screen, top: 0, left: 0, width: '100%', height: 4, tags: true });
    this.statesBox = blessed.box({ parent: screen, left: 0, width: '40%', tags: true, border, label: ' states ' });
    this.trendBox = blessed.box({ parent: screen, left: '40%', width: '60%', tags: true, border, label: ` trend  ${TREND_LEGEND} ` });
    this.table = blessed.box({ parent: screen, left: 0, width: '100%', tags: true, border });
    this.detail = blessed.box({ parent: screen, top: 'center', left: 'center', width: '90%', height: '80%', tags: true, border, hidden: true, label: ' connection (↑↓ scroll, Enter or Esc closes) ' });
    this.help = blessed.box({ parent: screen, top: 'center', left: 'center', tags: true, border, hidden: true });
    // The prompt in inverse video, not fixed colours: it stands out on any terminal, NO_COLOR too.
    this.prompt = blessed.box({ parent: screen, bottom: 0, left: 0, width: '100%', height: 1, tags: true, hidden: true });
    this.tooSmall = blessed.box({ parent: screen, top: 0, left: 0, width: '100%', height: '100%', tags: false, hidden: true });
    screen.on('keypress', (ch: string | undefined, key: { full?: string } | undefined) => {
      const name = key?.full;
      // blessed reports Return twice, as `return` and again as `enter`: act on the second only.
      if (!name || name === 'return') return;
      this.dispatch({ type: 'key', key: name === 'linefeed' ? 'enter' : name, ch });
    });
    screen.on('resize', () => this.dispatch({ type: 'resize', width: Number(screen.width), height: Number(screen.height) }));
  }

  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // An exception in a blessed callback would otherwise kill the process with the terminal
      // still in raw mode: it ends the dashboard instead, and the caller restores the terminal.
      const crash = (error: unknown) => finish(error instanceof Error ? error : new Error(String(error)));
      const stop = new AbortController();
      const finish = (error?: Error) => {
        this.stopped = true;
        stop.abort();
        // q and Ctrl-C are keys here, not signals: the reads of a poll under way end only when asked.
        this.io.stop?.();
        process.removeListener('uncaughtException', crash);
        process.removeListener('unhandledRejection', crash);
        if (error) reject(error);
        else resolve();
      };
      process.on('uncaughtException', crash);
      process.on('unhandledRejection', crash);
      this.quit = () => finish();
      this.io.interrupt.addEventListener('abort', () => this.quit?.(), { once: true });
      this.draw();
      if (this.settings.censusIntervalMs !== undefined) this.settings.monitor.pollInTiers({ censusIntervalMs: this.settings.censusIntervalMs, censusEveryPoll: () => !this.state.flaggedOnly });
      this.loop = new PollLoop({ clock: this.settings.clock ?? systemClock, signal: stop.signal, intervalMs: () => this.state.intervalMs, paused: () => this.state.paused, failureReporting: 'none' });
      this.loop.run({ poll: () => this.settings.monitor.poll(), onPoll: (outcome) => this.onPoll(outcome) }).then(() => finish(), crash);
    });
  }

  /** Every change goes through reduce(); what it asks of the outside world happens here. */
  private dispatch(action: Action): void {
    const before = this.state;
    this.state = reduce(before, action);
    if (this.state.quit) {
      this.quit?.();
      return;
    }
    if (before.paused && !this.state.paused) this.loop?.wake();
    this.draw();
    this.lookUpOwnersIfMissing();
  }

  private async onPoll(outcome: PollOutcome): Promise<void> {
    if (this.stopped) return;
    this.lastOutcome = outcome;
    this.addNotices(outcome.notices);
    if (outcome.ok) {
      this.failure = undefined;
      this.tableRead = true;
      this.unread = outcome.unread ?? [];
      const evaluation = await this.evaluate();
      this.trend.add(outcome.takenAtMs, evaluation);
      await this.settings.afterPoll?.(outcome, evaluation);
    } else {
      // A failed read clears nothing (docs/tcp-facts.md#session-classes); the banner says the data is old.
      this.failure = outcome.error ?? 'the socket table could not be read';
      await this.settings.afterPoll?.(outcome, undefined);
    }
    // Captured tables all replayed: nothing new will come, so the clock stops. Not so for `--netns`,
    // whose rows are not this host's namespace (describesThisHost false) but are read live.
    if (this.settings.monitor.replaysCaptures && this.settings.monitor.pendingCaptures === 0) this.dispatchQuietly({ type: 'pause' });
    this.draw();
    this.lookUpOwnersIfMissing();
  }

  /** Keeps each notice once (the latest said goes last, where the header shows it). */
  private addNotices(texts: readonly string[]): void {
    for (const text of texts) {
      const at = this.notices.indexOf(text);
      if (at >= 0) this.notices.splice(at, 1);
      else if (this.notices.length >= MAX_NOTICES) this.notices.shift();
      this.notices.push(text);
    }
  }

  /**
   * The one place owners are asked for: every row's when the state needs them (ownersNeeded),
   * else the visible window's of the new views (the Monitor's resolver caches owners by inode
   * across polls). Dispatches the new views.
   */
  private async evaluate(): Promise<Evaluation> {
    // After the lookup under way, if any: two at once would race on the owner cache.
    while (this.evaluating) await this.evaluating.catch(() => undefined);
    const run = this.evaluateNow();
    this.evaluating = run;
    try {
      return await run;
    } finally {
      this.evaluating = undefined;
    }
  }

  private async evaluateNow(): Promise<Evaluation> {
    const need = ownersNeeded(this.state);
    let lookedUp: 'all' | ReadonlySet<string> = 'all'; // when the source gives owners in its rows, the window is not asked
    // The state derived for the window (the new views before their owners): kept, so the table is
    // filtered and sorted once per poll, not again when the owners come.
    let derived: { from: DashboardState; before: readonly ConnectionView[]; state: DashboardState } | undefined;
    let evaluated;
    try {
      evaluated = await this.settings.monitor.evaluate(
        this.settings.policy,
        need === 'all'
          ? 'all'
          : {
              // The window's only: the table shows those, and the event log writes no looked-up
              // owner (its lines carry the tracker's rows), so the flagged rows off screen (86,000
              // at 100,000 sockets) would each be looked up and copied every poll for nothing.
              flagged: false,
              window: (e) => {
                this.viewsRenewed = true;
                const state = reduce(this.state, { type: 'evaluated', views: e.views });
                derived = { from: this.state, before: e.views, state };
                const window = visibleViews(state);
                lookedUp = new Set(window.map((v) => v.connection.key));
                return window;
              },
            },
        { ranked: false, views: this.views }, // the table sorts by its own column
      );
    } catch (error) {
      this.viewsRenewed = false;
      throw error;
    }
    const { evaluation } = evaluated;
    this.evaluation = evaluation;
    this.stateCounts = countStates(evaluation.views);
    this.ownersLookedUp = lookedUp;
    // A key pressed while the owners were looked up changed the state: derived again from it.
    if (derived && derived.from === this.state) this.state = reduce(derived.state, { type: 'owners-added', before: derived.before, views: evaluation.views });
    else this.dispatchQuietly({ type: 'evaluated', views: evaluation.views });
    this.viewsRenewed = false;
    return evaluation;
  }

  private dispatchQuietly(action: Action): void {
    this.state = reduce(this.state, action);
  }

  /** The view needs every row's owner (ownersNeeded) and they are not all looked up yet. */
  private ownersPending(): boolean {
    return this.evaluation !== undefined && this.ownersLookedUp !== 'all' && ownersNeeded(this.state) === 'all';
  }

  /** Whether rows the state shows (or counts) have not had their owners looked up yet. */
  private ownersMissing(): boolean {
    const looked = this.ownersLookedUp;
    if (!this.evaluation || looked === 'all') return false;
    if (ownersNeeded(this.state) === 'all') return true;
    return visibleViews(this.state).some((v) => !looked.has(v.connection.key) && v.row.pid === undefined);
  }

  /** Scrolled to rows not looked up, or switched to a view that needs every owner: look them up now, not at the next poll. */
  private lookUpOwnersIfMissing(): void {
    if (!this.ownersMissing()) return;
    if (this.evaluating) {
      this.ownersAgain = true; // asked again when the one under way ends
      return;
    }
    this.ownersAgain = false;
    // A failure here is a bug like one in a poll: it reaches run()'s handler and ends the dashboard.
    void this.evaluate().then(() => {
      this.draw();
      if (this.ownersAgain) this.lookUpOwnersIfMissing();
    });
  }

  private draw(): void {
    // Drawn once the evaluation under way ends (onPoll and lookUpOwnersIfMissing draw then).
    if (this.viewsRenewed) return;
    const state = this.state;
    const layout = layoutOf(state.width, state.height);
    const widgets = [this.header, this.statesBox, this.trendBox, this.table, this.detail, this.help, this.prompt];
    if (layout.tooSmall) {
      for (const widget of widgets) widget.hide();
      this.tooSmall.setContent(`terminal too small (${MIN_SIZE.width}×${MIN_SIZE.height} needed, this one is ${state.width}×${state.height})\nq quits`);
      this.tooSmall.show();
      this.screen.render();
      return;
    }
    this.tooSmall.hide();
    this.header.show();
    this.table.show();
    this.drawHeader(state.width);
    this.drawCharts(layout.chartsHeight);
    this.table.top = layout.tableTop;
    this.table.height = layout.tableHeight;
    this.drawTable(state.width);
    this.drawPrompt();
    this.drawHelp();
    this.drawDetail();
    this.screen.render();
  }

  private drawHeader(width: number): void {
    const lines = headerLines(
      {
        host: hostname(),
        source: this.settings.monitor.sourceName,
        intervalMs: this.state.intervalMs,
        paused: this.state.paused,
        ...(this.lastOutcome?.ok || this.evaluation ? { lastPollAtMs: this.settings.monitor.tracker.lastPollMs ?? this.lastOutcome?.takenAtMs } : {}),
        ...(this.lastOutcome ? { lastPollCostMs: this.lastOutcome.durationMs } : {}),
        ...(this.evaluation ? { evaluation: this.evaluation } : {}),
        ...(this.failure ? { failure: this.failure } : {}),
        unread: this.unread,
        notices: this.notices,
        thresholds: this.settings.policy.warning,
        sort: this.state.sort,
      },
      width,
      this.paint,
    );
    this.header.height = lines.length;
    this.header.setContent(lines.join('\n'));
  }

  private drawTable(width: number): void {
    const state = this.state;
    let body: string[];
    if (state.grouping === 'none') {
      // A NETNS column only when the rows span more than one namespace (--netns).
      const columns = connectionColumns(width, spansNamespaces(state.shown));
      body = [connectionHeader(columns, this.paint), ...visibleViews(state).map((v, i) => connectionLine(v, columns, state.cursor.offset + i === state.cursor.selected, this.paint))];
      if (state.shown.length === 0) body.push(escapeTags(state.views ? emptyTableText(state.filter) : '(first poll running)'));
    } else if (state.grouping === 'process' && this.ownersPending()) {
      // Counted before the owners are known, every row would fall in "(no owner)".
      body = [groupHeader(state.grouping, width, this.paint), escapeTags('(looking up the owner of every connection…)')];
    } else {
      body = [groupHeader(state.grouping, width, this.paint), ...visibleGroups(state).map((g, i) => groupLine(g, width, state.cursor.offset + i === state.cursor.selected, this.paint))];
    }
    const pending = this.ownersPending() ? '(owners being looked up) ' : '';
    this.table.setLabel(escapeTags(fit(tableLabel(state) + pending, width - 4).trimEnd()) + ' ');
    this.table.setContent(body.join('\n'));
  }

  /** The charts, when the layout has room for them: both as text, the same with or without colour. */
  private drawCharts(height: number): void {
    const points = this.trend.points();
    const trend = height > 0 ? trendLines(points, Number(this.trendBox.width) - 2, height - 2, this.paint) : undefined;
    if (height === 0 || !this.evaluation) {
      this.statesBox.hide();
      this.trendBox.hide();
      return;
    }
    for (const box of [this.statesBox, this.trendBox]) {
      box.top = layoutOf(this.state.width, this.state.height).headerHeight;
      box.height = height;
      box.show();
    }
    const counts = this.stateCounts;
    const present = BAR_STATES.filter(([state]) => (counts.get(state) ?? 0) > 0).slice(0, height - 2);
    this.statesBox.setContent(
      escapeTags(
        stateBars(
          present.map(([state, short]) => [short, counts.get(state) ?? 0]),
          Number(this.statesBox.width) - 2,
        ).join('\n'),
      ),
    );
    // Fewer than two polls: nothing to draw a line through yet.
    this.trendBox.setContent(trend ? trend.join('\n') : escapeTags('(collecting: a trend needs two polls)'));
  }

  private drawPrompt(): void {
    const overlay = this.state.overlay;
    if (overlay.kind !== 'prompt') {
      this.prompt.hide();
      return;
    }
    const status = overlay.error ? { error: overlay.error } : { prefilled: this.state.promptPrefilled };
    this.prompt.setContent(this.paint(fit(promptLine(overlay.text, this.state.width, status), this.state.width), 'inverse'));
    this.prompt.show();
    this.prompt.setFront();
  }

  /** Help, generated from the key table, in a box that fits the terminal; it scrolls when it must. */
  private drawHelp(): void {
    const overlay = this.state.overlay;
    if (overlay.kind !== 'help') {
      this.help.hide();
      return;
    }
    const view = helpView(this.state.width, this.state.height, overlay.scroll);
    this.dispatchQuietly({ type: 'clamp-scroll', max: view.maxScroll });
    this.help.width = view.width;
    this.help.height = view.height;
    this.help.setLabel(view.label);
    this.help.setContent(view.lines.map((line) => ` ${escapeTags(line)}`).join('\n'));
    this.help.show();
    this.help.setFront();
  }

  private drawDetail(): void {
    const overlay = this.state.overlay;
    if (overlay.kind !== 'detail') {
      this.detail.hide();
      return;
    }
    const width = Math.floor(this.state.width * 0.9) - 4;
    const rows = Math.floor(this.state.height * 0.8) - 2;
    const lines = wrapText(detailText(this.state.views ?? [], overlay.key, { ownersComplete: this.ownersLookedUp === 'all', facts: this.settings.facts, policy: this.settings.policy }), width);
    const scroll = this.clampScroll(overlay.scroll, lines.length - rows);
    this.detail.setContent(
      lines
        .slice(scroll, scroll + rows)
        .map((line) => ` ${escapeTags(line)}`)
        .join('\n'),
    );
    this.detail.show();
    this.detail.setFront();
  }

  /** An overlay's scroll within its text; a scroll past the end (End) is brought back in the state. */
  private clampScroll(scroll: number, max: number): number {
    this.dispatchQuietly({ type: 'clamp-scroll', max: Math.max(0, max) });
    return Math.max(0, Math.min(scroll, max));
  }
}
