import type { Monitor, PollOutcome } from '../../app/monitor.js';
import { PollLoop } from '../../app/poll-loop.js';
import { StateBook, StateDecodeError, type CheckState } from '../../app/tracker-codec.js';
import { readTableIdentity, whyNoTableIdentity, type TableIdentity } from '../../sources/table-identity.js';
import type { NotifierConfig } from '../../config/parse-config.js';
import { countAlertKey, currentAlerts, reconcileAlerts, type AlertNotification, type ReportedAlert } from '../../core/alerts.js';
import { diagnoseAll, type Diagnosis } from '../../core/diagnosis.js';
import { statusOf, type CheckStatus, type ConnectionView, type Evaluation } from '../../core/evaluate.js';
import { TcpState } from '../../core/tcp-state.js';
import { thresholdsFor, type Policy } from '../../core/policy.js';
import { deliver, notificationToJson, outboxMessage, type Delivery } from '../../notify/notifiers.js';
import { notifyEachChannel, type ChannelBacklog } from '../../app/notify-channels.js';
import { MAX_PENDING_NOTIFICATIONS } from '../../core/alert-outbox.js';
import { StateFile, StateFileUnusableError, defaultStateFilePath } from '../../platform/state-file.js';
import { formatCheckSummary, formatCountLine, formatFlaggedLine, formatResetLine, formatResolvedLine } from '../../output/check-text.js';
import { checkReportToJson, type ResetResult } from '../../output/json.js';
import { formatNagios } from '../../output/nagios.js';
import { sanitizeLine } from '../../output/sanitize.js';
import { endSocket } from '../../sources/end-socket.js';
import { pollClock, type CliContext } from '../context.js';
import { ExitCode, exitCodeForStatus } from '../exit-codes.js';
import { loadSettings } from '../load-policy.js';
import { hostFactsFor, openMonitor, pollThrough } from '../open-monitor.js';
import type { CheckOptions } from '../parse-command-line.js';
import { appendAll } from '../../core/lists.js';
import { writeJson } from '../../output/json-text.js';

// `check`, for cron and monitoring systems. Text (the default) is silent when nothing is new: a
// session is reported when it crosses its threshold, again after --renotify or when its severity
// rises, and as resolved when it clears (the state file remembers what was reported). `--all`
// prints every current flag. JSON and Nagios formats describe the current state every run.
// Exit 0/1/2/3 by status; 75 when a notifier failed (it alone sends them again next run).

export async function runCheck(options: CheckOptions, context: CliContext): Promise<number> {
  const { policy, notifiers } = await loadSettings(options);
  // --window samples instead of the state file, unless a state file is named explicitly too.
  // Captured files carry their own history: the live host's state file has nothing to add.
  const useStateFile = options.useStateFile && !options.input && (options.windowMs === undefined || options.stateFilePath !== undefined);
  const stateFile = useStateFile ? new StateFile(options.stateFilePath ?? defaultStateFilePath(context.env)) : undefined;

  const stateNotes: string[] = [];
  if (stateFile) await lockState(stateFile, stateNotes);
  try {
    // History belongs to the table it was taken from: this namespace, this boot, this source and /proc.
    let table = stateFile ? await readTableIdentity(context.platform, options.source, options.procRoot) : undefined;
    const unidentified = table && whyNoTableIdentity(table, context.platform.os);
    if (unidentified) {
      stateNotes.push(`${unidentified}: history is neither read nor kept this run`);
      table = undefined;
    }
    const loaded = stateFile && table ? await loadState(stateFile, table, context, stateNotes) : undefined;
    const saved = loaded?.history;
    // Input files that give no table make every poll fail: UNKNOWN, in the format asked for.
    const monitor = await openMonitor(options, context, saved?.tracker, { failedInputPolls: true });
    try {
      const state = stateFile && table && loaded ? { file: stateFile, table, book: loaded.book } : undefined;
      return await checkThrough(monitor, { policy, notifiers, state, stateNotes, reported: saved?.alerts ?? [], outbox: saved?.outbox ?? [] }, options, context);
    } finally {
      monitor.close();
    }
  } finally {
    await stateFile?.unlock();
  }
}

interface CheckSettings {
  policy: Policy;
  notifiers: NotifierConfig[];
  /** Where history is kept, and which table's section this run reads and writes. */
  state: { file: StateFile; table: TableIdentity; book: StateBook } | undefined;
  /** Why the state file was not read or will not be saved: one line each, never fatal (the check still reports). */
  stateNotes: string[];
  /** Alerts the previous runs reported. */
  reported: ReportedAlert[];
  /** Notifications the notifiers failed to deliver in earlier runs. */
  outbox: ChannelBacklog[];
}

function keptText(kept: number, saved: boolean): string {
  const what = `${kept} notification${kept === 1 ? '' : 's'}`;
  return saved ? `${what} kept for it and sent again on the next run` : `${what} not delivered (no state file to keep them in)`;
}

async function checkThrough(monitor: Monitor, settings: CheckSettings, options: CheckOptions, context: CliContext): Promise<number> {
  const sampled = await sample(monitor, options, context);

  // A flagged CLOSE_WAIT's finding counts what its process holds: then every CLOSE_WAIT needs its owner.
  const { evaluation } = await monitor.evaluate(settings.policy, (e) => {
    const closeWaits = e.views.filter((v) => v.row.state === TcpState.CLOSE_WAIT);
    return closeWaits.some((v) => v.flag) ? closeWaits : [];
  });
  // Say what was not measured: an idle threshold over a source without activity counters
  // (procfs, netstat, captures without tcp_info) checks nothing, and "nothing flagged" must say so.
  const unmeasured = evaluation.views.filter((v) => v.row.state === TcpState.ESTABLISHED && v.timing.idleMs === undefined && thresholdsFor(settings.policy, v.row)?.warningMs !== undefined).length;
  const unmeasuredNotes = unmeasured > 0 ? [`idle not measured for ${unmeasured} ESTABLISHED connection${unmeasured === 1 ? '' : 's'}: source ${sampled.source} reports no activity counters`] : [];
  const outcome = { ...sampled, notices: [...sampled.notices, ...unmeasuredNotes] };
  // Fail closed: input files that gave no table may hold anything, so "nothing flagged" is not
  // proven; a warning or critical that the other files prove stands.
  const proven: CheckStatus = outcome.ok ? statusOf(evaluation) : 'unknown';
  const status: CheckStatus = proven === 'ok' && monitor.skippedInput.length > 0 ? 'unknown' : proven;
  const errors = outcome.error ? [outcome.error] : monitor.skippedInput.map((s) => s.reason);
  const diagnosis = diagnoseAll(evaluation.views, await hostFactsFor(monitor, options, context));
  const resets: ResetResult[] = [];
  if (options.resetKinds && outcome.ok) {
    for (const view of evaluation.views) {
      if (view.flag && view.flag.kind !== 'count' && options.resetKinds.includes(view.flag.kind)) {
        resets.push({ view, outcome: await endSocket(context.platform, view.row) });
      }
    }
  }

  // A failed poll proves nothing cleared: the reported alerts stay as they were.
  const reconciled = outcome.ok
    ? reconcileAlerts(settings.reported, currentAlerts(evaluation.views, evaluation.countFlags), outcome.takenAtMs, options.renotifyMs)
    : { reported: settings.reported, notifications: [] };
  // Each notifier is its own channel (app/notify-channels.ts): it is sent its backlog and this run's
  // news, and keeps what it failed to deliver; the report below tracks what it told, whatever they did.
  const channels = await notifyEachChannel(settings.notifiers, settings.outbox, reconciled.notifications, outcome.takenAtMs, async (notifier, pending) => {
    const deps = { platform: context.platform, sleep: (ms: number) => context.sleep(ms, context.interrupt), interrupt: context.interrupt };
    return (await deliver(outboxMessage(status, outcome.source, outcome.takenAtMs, pending), [notifier], deps))[0]!;
  });
  const deliveries: Delivery[] = channels.results.map((r) => r.delivery);
  const failed = channels.results.filter((r) => !r.delivery.ok);
  for (const r of failed) context.stderr.write(`tcpdwell: ${sanitizeLine(`notifier ${r.delivery.notifier} failed: ${r.delivery.error}`)}; ${keptText(r.kept, settings.state !== undefined)}${r.dropped > 0 ? ` (${r.dropped} oldest dropped: at most ${MAX_PENDING_NOTIFICATIONS} are kept)` : ''}\n`);
  if (channels.orphaned > 0) settings.stateNotes.push(`${channels.orphaned} undelivered notification${channels.orphaned === 1 ? '' : 's'} of notifiers no longer in the config dropped`);
  const reported = reconciled.reported;
  if (settings.state) {
    const { file, table, book } = settings.state;
    book.record(table, { tracker: monitor.tracker, alerts: reported, outbox: channels.backlogs, source: outcome.source }, context.platform.nowMs());
    await saveState(file, book.encode(context.platform.nowMs()), settings.stateNotes);
  }
  // Nagios reads stdout only: there the notes are long output; elsewhere stderr, like every warning.
  if (options.format !== 'nagios') for (const note of settings.stateNotes) context.stderr.write(`tcpdwell: ${note}\n`);

  const report = { status, outcome, evaluation, diagnosis, resets, errors, notifications: reconciled.notifications };
  if (options.format === 'json') {
    const json = checkReportToJson({
      status,
      checkedAtMs: outcome.takenAtMs,
      source: outcome.source,
      views: evaluation.views,
      countFlags: evaluation.countFlags,
      errors,
      notices: outcome.notices,
      diagnosis,
      resets,
    });
    writeJson(context.stdout, { ...json, notifications: reconciled.notifications.map(notificationToJson), deliveries }, 2);
  } else if (options.format === 'nagios') {
    context.stdout.write(formatNagios(status, evaluation, outcome.source, errors, [...unmeasuredNotes, ...settings.stateNotes]));
    return exitCodeForStatus(status);
  } else {
    const lines = textLines(report, options.all, outcome.takenAtMs);
    // Notes, findings and resolved lines quote outside text too: every line sanitised (idempotent).
    if (lines.length) context.stdout.write(`${lines.map(sanitizeLine).join('\n')}\n`);
  }
  return failed.length > 0 ? ExitCode.NOTIFY_FAILED : exitCodeForStatus(status);
}

interface TextReport {
  status: CheckStatus;
  outcome: PollOutcome;
  evaluation: Evaluation;
  diagnosis: Diagnosis;
  resets: ResetResult[];
  errors: string[];
  notifications: AlertNotification[];
}

/** The text lines: what is new (or everything, with --all), resets, notes and a summary; none when nothing is to be said. */
function textLines(r: TextReport, all: boolean, nowMs: number): string[] {
  const viewByKey = new Map<string, ConnectionView>(r.evaluation.views.map((v) => [v.connection.key, v]));
  const countByKey = new Map(r.evaluation.countFlags.map((f) => [countAlertKey(f), f]));
  const why = (v: ConnectionView) => r.diagnosis.byConnection.get(v.connection.key)?.summary;
  const lines: string[] = [];
  if (all) {
    appendAll(lines, r.evaluation.views.map((v) => formatFlaggedLine(v, why(v))).filter((l): l is string => l !== undefined));
    appendAll(lines, r.evaluation.countFlags.map(formatCountLine));
  } else {
    for (const n of r.notifications) {
      if (n.change === 'resolved') continue;
      const view = viewByKey.get(n.key);
      const count = countByKey.get(n.key);
      const line = view ? formatFlaggedLine(view, why(view)) : count ? formatCountLine(count) : undefined;
      if (line) lines.push(n.change === 'reminder' ? `${line} [still flagged]` : line);
    }
  }
  appendAll(lines, r.notifications.filter((n) => n.change === 'resolved').map((n) => formatResolvedLine(n, nowMs)));
  if (lines.length === 0 && r.resets.length === 0 && r.status !== 'unknown') return [];
  appendAll(lines, r.diagnosis.groups.map((g) => `FINDING ${g.subject}: ${g.summary}`));
  appendAll(lines, r.resets.map(formatResetLine));
  appendAll(lines, r.outcome.notices.map((n) => `note: ${n}`));
  lines.push(formatCheckSummary(r.status, r.evaluation.views, r.evaluation.countFlags, r.outcome.source, r.errors));
  return lines;
}

/**
 * One poll, or polls every --interval for --window; the last completed poll's result decides.
 * Ctrl-C cuts the window short (the poll it interrupted is dropped, and a note says so); an
 * interrupt before any poll completed proves nothing: UNKNOWN.
 */
async function sample(monitor: Monitor, options: CheckOptions, context: CliContext): Promise<PollOutcome> {
  const notices = new Set<string>();
  const loop = new PollLoop({
    clock: pollClock(context),
    signal: context.interrupt,
    intervalMs: options.intervalMs,
    ...(options.windowMs === undefined ? { maxPolls: 1 } : { windowMs: options.windowMs }),
    failureReporting: 'none',
  });
  const end = await loop.run({ poll: () => pollThrough(monitor), onPoll: (outcome) => outcome.notices.forEach((n) => notices.add(n)) });
  if (!end.last) {
    const nowMs = context.platform.nowMs();
    return { ok: false, takenAtMs: nowMs, source: monitor.sourceName, notices: [], error: 'interrupted before the socket table was read', events: [], durationMs: 0 };
  }
  if (end.reason === 'interrupted' && options.windowMs !== undefined) notices.add(`--window cut short by an interrupt after ${end.polls} poll${end.polls === 1 ? '' : 's'}: the last completed poll decides`);
  return { ...end.last, notices: [...notices] };
}

/**
 * A state directory that cannot be created or locked (read-only, full, a file) costs this run its
 * history, not its report. Refused (unsafe) and locked state files end the run (exit 78, 3).
 */
async function lockState(stateFile: StateFile, notes: string[]): Promise<void> {
  try {
    await stateFile.lock();
  } catch (error) {
    if (!(error instanceof StateFileUnusableError)) throw error;
    notes.push(error.message);
  }
}

/** A state file that cannot be saved (full, read-only) is one note; the report still goes out. */
async function saveState(stateFile: StateFile, text: string, notes: string[]): Promise<void> {
  try {
    await stateFile.write(text);
  } catch (error) {
    if (!(error instanceof StateFileUnusableError)) throw error;
    notes.push(error.message);
  }
}

/**
 * The state file's sections, and this table's history in them. A corrupt or foreign state file is
 * reported, kept aside, and replaced: never fatal. One that could not be read is one note and is
 * left as it is (StateFile then does not write). A restart of the host drops the history of its
 * earlier boot, with one line saying so.
 */
async function loadState(stateFile: StateFile, table: TableIdentity, context: CliContext, notes: string[]): Promise<{ book: StateBook; history: CheckState | undefined }> {
  let text: string | undefined;
  try {
    text = await stateFile.read();
  } catch (error) {
    if (!(error instanceof StateFileUnusableError)) throw error;
    notes.push(error.message);
    return { book: StateBook.empty(), history: undefined };
  }
  if (text === undefined) return { book: StateBook.empty(), history: undefined };
  try {
    const book = StateBook.decode(text);
    const forgotten = book.forgetOtherBoots(table);
    if (forgotten.tables > 0) {
      notes.push(
        `the host restarted since ${stateFile.path} was written (boot id changed): history of ${forgotten.tables} socket table${forgotten.tables === 1 ? '' : 's'} and ${forgotten.alerts} reported alert${forgotten.alerts === 1 ? '' : 's'} from before the restart dropped, starting fresh`,
      );
    }
    const history = book.historyOf(table);
    if (book.damagedSections > 0) {
      notes.push(`state file ${stateFile.path}: ${book.damagedSections} damaged section${book.damagedSections === 1 ? '' : 's'} dropped; the other tables' history is kept`);
    }
    return { book, history };
  } catch (error) {
    if (!(error instanceof StateDecodeError)) throw error;
    try {
      const aside = await stateFile.setAside(context.platform.nowMs());
      notes.push(`state file ${stateFile.path} is unusable (${error.message}); kept as ${aside}, starting without history`);
    } catch (asideError) {
      if (!(asideError instanceof StateFileUnusableError)) throw asideError;
      notes.push(asideError.message);
    }
    return { book: StateBook.empty(), history: undefined };
  }
}
