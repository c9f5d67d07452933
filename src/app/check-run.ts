import { AlertLedger, notificationsWithoutHistory, type AlertNotification, type ReportedAlert } from '../core/alerts.js';
import { diagnoseAll, readByDiagnosis } from '../core/diagnosis.js';
import { FirstSightScreen } from '../core/first-sight-screen.js';
import { appendAll } from '../core/lists.js';
import { plural } from '../core/plural.js';
import { rankFlaggedFirst, statusOf, type CheckStatus, type ConnectionView, type Evaluation } from '../core/evaluate.js';
import {
  SEVERITY_RANK,
  countLevels,
  dwellCouldRaiseSeverity,
  evaluateConnection,
  policyNeedsProcesses,
  severityWhateverOwner,
  thresholdsFor,
  type Policy,
  type TimedFlagKind,
} from '../core/policy.js';
import { TcpState } from '../core/tcp-state.js';
import { timingOf, type TrackerState } from '../core/tracker.js';
import type { NotifierConfig } from '../config/parse-config.js';
import { deliver, outboxMessage, type Delivery } from '../notify/notifiers.js';
import { notifyEachChannel, type ChannelBacklog } from './notify-channels.js';
import type { Platform } from '../platform/platform.js';
import { StateFile, StateFileUnusableError } from '../platform/state-file.js';
import { socketEnder } from '../sources/end-socket.js';
import type { NetnsChoice } from '../sources/netns-choice.js';
import type { SourceChoice } from '../sources/registry.js';
import { readTableIdentity, whyNoTableIdentity, type TableIdentity } from '../sources/table-identity.js';
import { notReadBy, type Monitor, type PollOutcome } from './monitor.js';
import type { CheckReport, ResetResult } from './reports.js';
import type { CheckState, StateBook } from './tracker-codec.js';
import { heapBudgetBetweenBursts, heapCollectBeforeLastBurst } from './heap-budget.js';
import { PollLoop, pollThrough, type PollClock } from './poll-loop.js';
import { ownersHiddenAdvice, readOwnersPrivilege } from '../sources/privilege.js';

// The `check` use case: sample, evaluate, decide the status, diagnose, reset, reconcile alerts with
// what earlier runs reported, deliver notifications, keep the history. One CheckReport comes back;
// printing it (text, JSON, Nagios) and the exit code are the front end's.

/** What a check run is asked to do. */
export interface CheckRequest {
  policy: Policy;
  notifiers: NotifierConfig[];
  /** The state file keeping history between runs; undefined: none this run (--no-state, --input, --window alone). */
  stateFilePath: string | undefined;
  /** Which table the history belongs to (state file sections are per table). */
  source: SourceChoice;
  procRoot: string;
  /** `--netns`: the namespaces read; their histories are kept one section each. */
  netns?: NetnsChoice;
  /** Report a still-flagged session again after this long (Infinity: never). */
  renotifyMs: number;
  /** `--interval`: time between the polls of a `--window` sample. */
  intervalMs: number;
  /** `--window`: sample the table for this long; undefined: one poll (with `--input`, one per file). */
  windowMs?: number;
  /** End the flagged sessions of these kinds (opt-in). */
  resetKinds: TimedFlagKind[] | undefined;
  /**
   * May a one-shot run (one live reading, no history kept: `--no-state` without `--window` or
   * `--netns`) leave out of its table the connections no rule can flag (core/first-sight-screen.ts),
   * counting them per state? Where the source and policy allow it, the report is the same.
   */
  screenFirstReading?: boolean;
}

/** What a check run reads and waits through; the front end supplies each. */
export interface CheckPorts {
  platform: Platform;
  /** Waits, unless the signal aborts first: between `--window` polls and notifier retries. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  interrupt: AbortSignal;
  /** The monitor to read through (the live source or the `--input` files), started from this table's saved history if any. */
  openMonitor(initialState: TrackerState | undefined): Promise<Monitor>;
}

/**
 * One check run. A state file that cannot be created, locked, read or saved costs this run its
 * history (a line in `stateNotes`), not its report; one refused as unsafe or held by another run
 * throws (StateFileRefusedError, StateFileLockedError).
 */
export async function runCheckUseCase(request: CheckRequest, ports: CheckPorts): Promise<CheckReport> {
  const stateFile = request.stateFilePath !== undefined ? new StateFile(request.stateFilePath) : undefined;
  const stateNotes: string[] = [];
  if (stateFile) await lockState(stateFile, stateNotes);
  try {
    // History belongs to the table it was taken from: this namespace, this boot, this source and /proc.
    let table = stateFile ? await readTableIdentity(ports.platform, request.source, request.procRoot, request.netns) : undefined;
    const unidentified = table && whyNoTableIdentity(table, ports.platform.os);
    if (unidentified) {
      stateNotes.push(`${unidentified}: history is neither read nor kept this run`);
      table = undefined;
    }
    const loaded = stateFile && table ? await loadState(stateFile, table, ports.platform, stateNotes) : undefined;
    const monitor = await ports.openMonitor(loaded?.history?.tracker);
    try {
      const state = stateFile && table && loaded ? { file: stateFile, table, book: loaded.book } : undefined;
      return await checkThrough(monitor, request, ports, { wanted: stateFile !== undefined, state, stateNotes, reported: loaded?.history?.alerts ?? [], outbox: loaded?.history?.outbox ?? [] });
    } finally {
      monitor.close();
    }
  } finally {
    await stateFile?.unlock();
  }
}

interface History {
  /** A state file was asked for (not `--no-state`, `--input`, or `--window` alone): history is to be kept. */
  wanted: boolean;
  /** Where history is kept, and which table's section this run reads and writes. */
  state: { file: StateFile; table: TableIdentity; book: StateBook } | undefined;
  stateNotes: string[];
  /** Alerts the previous runs reported. */
  reported: ReportedAlert[];
  /** Notifications the notifiers failed to deliver in earlier runs. */
  outbox: ChannelBacklog[];
}

async function checkThrough(monitor: Monitor, request: CheckRequest, ports: CheckPorts, history: History): Promise<CheckReport> {
  const clock = { nowMs: () => ports.platform.nowMs(), sleep: ports.sleep };
  // One reading, nothing kept of it for later: what no rule can flag is counted, not tracked. The
  // screen is undefined for count rules and rules on process names (every row counts there); the
  // monitor ignores it for captured files and a tracker started from history.
  const screen = request.screenFirstReading && !history.wanted && request.windowMs === undefined && request.netns === undefined ? FirstSightScreen.of(request.policy) : undefined;
  if (screen) monitor.screenFirstReading(screen);
  const outcome = await sampleTable(monitor, {
    clock,
    signal: ports.interrupt,
    intervalMs: request.intervalMs,
    ...(request.windowMs === undefined ? {} : { windowMs: request.windowMs }),
    readAgain: () => flaggedButMissing(monitor, request.policy),
  });

  // A flagged CLOSE_WAIT's finding counts what its process holds: then every CLOSE_WAIT needs its owner.
  // Ranked here, not by the monitor: what check shows (flagged views, the diagnosis) is in presentation order, the rest of the table is not sorted
  // (rankFlaggedFirst). Count rules rank everything: their levels read every row in order.
  const rankAll = request.policy.counts.length > 0;
  // A window's polls leave their garbage (up to the budget: a quarter of the live heap): collected before
  // the last evaluation makes a view per connection (~10 MB at 100,000 sockets) on top of it.
  if (request.windowMs !== undefined) heapCollectBeforeLastBurst();
  const evaluated = await monitor.evaluate(
    request.policy,
    {
      window: (e) => {
        const closeWaits = e.views.filter((v) => v.row.state === TcpState.CLOSE_WAIT);
        return closeWaits.some((v) => v.flag) ? closeWaits : [];
      },
    },
    // The run's last evaluation: the owners go into the rows, not into a copy of each flagged row.
    { ranked: rankAll, ownersInRows: true },
  );
  // A window's run is a long-running mode's: the owner lookup's garbage (~25 MB at 100,000 sockets
  // with 86,000 flagged) is collected before the report is made on top of it.
  if (request.windowMs !== undefined) heapBudgetBetweenBursts();
  const facts = await monitor.hostFacts();
  const shown = rankAll ? undefined : rankFlaggedFirst(evaluated.evaluation.views, readByDiagnosis(evaluated.evaluation.views, facts));
  const evaluation = shown ? { ...evaluated.evaluation, views: shown.views } : evaluated.evaluation;
  // Say what was not measured: an idle threshold over a source without activity counters
  // (procfs, netstat, captures without tcp_info) checks nothing, and "nothing flagged" must say so.
  // A critical idle threshold alone (`--idle off --critical-idle 2h`) is a threshold all the same.
  const idleThreshold = (t: ReturnType<typeof thresholdsFor>) => t !== undefined && (t.warningMs !== undefined || t.criticalMs !== undefined);
  const unmeasured = evaluation.views.filter((v) => v.row.state === TcpState.ESTABLISHED && v.timing.idleMs === undefined && idleThreshold(thresholdsFor(request.policy, v.row))).length;
  const measurementNotes = unmeasured > 0 ? [`idle not measured for ${plural(unmeasured, 'ESTABLISHED connection')}: source ${outcome.source} reports no activity counters`] : [];
  // Fail closed: input files that gave no table, a table or namespace the poll could not read, may
  // hold anything, so "nothing flagged" is not proven; a warning or critical the rest proves stands.
  // So may sessions read whose dwell is not known (taken for 0 at first sight: a SYN_RECEIVED's age).
  const unproven = [...monitor.skippedInput.map((s) => s.reason), ...(outcome.unread ?? [])];
  // Only what this poll read proves a flag: a session in a table or namespace it could not read is
  // kept as last read (its dwell stopped there), so it neither proves a WARNING nor clears one.
  const keptAsLastRead = outcome.unreadScope ? evaluation.views.filter((v) => v.flag && notReadBy(outcome, v.row)).length : 0;
  const readNow = keptAsLastRead > 0 ? { ...evaluation, views: evaluation.views.filter((v) => !notReadBy(outcome, v.row)) } : evaluation;
  if (keptAsLastRead > 0) measurementNotes.push(`${plural(keptAsLastRead, 'flagged session')} as last read, not now: ${outcome.unread!.join('; ')} (their dwell is as of the last reading)`);
  // Owners denied (not root): a rule on process names or a count per process saw no owner there,
  // so its "nothing over the limit" is not proven (as with a --proc-root that is no procfs), where
  // the unread owners could give a severity above the one proven (evaluated.ownersHiddenReach).
  let proofViews = readNow;
  if (evaluated.ownersHidden && policyNeedsProcesses(request.policy)) {
    // A session flagged with no owner read was judged by a rule that did not see its process: it
    // proves only the severity every rule its owner could pick gives it (a rule on its process may
    // raise its threshold: README "Exit codes"), and nothing when one of them leaves it unflagged.
    const hidden = ownerHiddenProof(request.policy, readNow);
    if (hidden.unproven > 0) {
      const one = hidden.unproven === 1;
      measurementNotes.push(
        `${plural(hidden.unproven, 'flagged session')} whose owner could not be read ${one ? 'proves' : 'prove'} nothing: a rule on process names may give ${one ? 'it' : 'them'} other thresholds`,
      );
    }
    proofViews = hidden.evaluation;
    const provenRank = outcome.ok ? STATUS_RANK[statusOf(proofViews)] : 0;
    // Not worked out (owners that came in the rows, --netns): they could give anything.
    const reach = evaluated.ownersHiddenReach ?? 'critical';
    const couldRaise = reach !== 'none' && SEVERITY_RANK[reach] > provenRank;
    if (hidden.unproven > 0 || couldRaise) {
      // Root with CAP_SYS_PTRACE denied its fds (this host's init): a sandbox or LSM policy, which running as root does not lift.
      const denied = (await readOwnersPrivilege(ports.platform)) ? ownersHiddenAdvice(true) : 'permission denied; run as root';
      const why = `the owners of some sockets could not be read (${denied})`;
      unproven.push(`${why}: rules on process names and counts per process are not judged`);
      // A WARNING proven stands (README "Exit codes"), but text and Nagios show no errors[] then: the
      // note says it (as for a SYN_RECEIVED's unread age), and that the counts per process (their
      // perfdata too) are of the sockets whose owner was read.
      if (provenRank > 0 && couldRaise) measurementNotes.push(ownersHiddenNote(why, request.policy));
    }
  }
  if (outcome.ok) unknownAgeProof(request.policy, readNow, outcome, unproven, measurementNotes);
  // A session whose state word nobody knows may be stuck: "nothing flagged" does not cover it.
  const unknownState = readNow.views.filter((v) => v.row.state === TcpState.UNKNOWN);
  if (unknownState.length > 0) {
    const words = [...new Set(unknownState.map((v) => v.row.rawState))].slice(0, 5).join(', ');
    unproven.push(`${plural(unknownState.length, 'session')} in a state tcpdwell does not know (${words}): not judged`);
  }
  if (outcome.ok) appendAll(measurementNotes, uncountedMissing(request.policy, evaluation.views, monitor.tracker.unconfirmedAbsence));
  const proven: CheckStatus = outcome.ok ? statusOf(proofViews) : 'unknown';
  let status: CheckStatus = proven === 'ok' && unproven.length > 0 ? 'unknown' : proven;
  const errors = outcome.error ? [outcome.error] : [...unproven];
  // The ranked views are every view the diagnosis reads (readByDiagnosis), in the whole ranking's
  // order; each flagged session's finding is made when the report prints it, not all kept at once.
  const diagnosis = diagnoseAll(shown ? evaluation.views.slice(0, shown.ranked) : evaluation.views, facts);
  const resets: ResetResult[] = [];
  if (request.resetKinds && outcome.ok) {
    const ender = socketEnder(ports.platform, { readAtMs: outcome.takenAtMs });
    try {
      for (const view of evaluation.views) {
        if (view.flag && view.flag.kind !== 'count' && request.resetKinds.includes(view.flag.kind)) {
          resets.push({ view, outcome: await ender.end(view.row) });
        }
      }
    } finally {
      ender.close();
    }
  }

  // A failed poll proves nothing cleared: the reported alerts stay as they were. The ledger is the
  // one watch and the event log keep (what reconcileAlerts gives, without an alert per flagged
  // session), started from what the earlier runs reported; one round.
  // A run with nothing reported before and no state file to keep what it reports makes no record.
  const reconciled = !outcome.ok
    ? { reported: history.reported, notifications: [] }
    : !history.state && history.reported.length === 0
      ? { reported: [], notifications: notificationsWithoutHistory(evaluation.views, evaluation.countFlags, outcome.takenAtMs) }
      : reconcileOnce(history.reported, evaluation, outcome.takenAtMs, request.renotifyMs);
  // Each notifier is its own channel (app/notify-channels.ts): it is sent its backlog and this run's
  // news, and keeps what it failed to deliver; the report tracks what it told, whatever they did.
  const channels = await notifyEachChannel(request.notifiers, history.outbox, reconciled.notifications, outcome.takenAtMs, async (notifier, pending) => {
    const deps = { platform: ports.platform, sleep: (ms: number) => ports.sleep(ms, ports.interrupt), interrupt: ports.interrupt };
    return (await deliver(outboxMessage(status, outcome.source, outcome.takenAtMs, pending), [notifier], deps))[0]!;
  });
  const deliveries: Delivery[] = channels.results.map((r) => r.delivery);
  if (channels.orphaned > 0) history.stateNotes.push(`${plural(channels.orphaned, 'undelivered notification')} of notifiers no longer in the config dropped`);
  let saved = false;
  if (history.state) {
    const { file, table, book } = history.state;
    book.record(table, { tracker: monitor.tracker, alerts: reconciled.reported, outbox: channels.backlogs, source: outcome.source }, ports.platform.nowMs());
    saved = await saveState(file, book.encode(ports.platform.nowMs()), history.stateNotes);
  }
  // Fail closed: a state file asked for and not saved (its directory read-only or full, the file
  // unreadable, the table unidentified) loses this run's history, so the next run cannot tell what
  // is new or how long a session has dwelt; one that keeps failing never sees a dwell grow. "OK" is
  // then not proven: UNKNOWN. A warning or critical this run proves stands (the note says why).
  const historyLost = history.wanted && !saved;
  if (historyLost && status === 'ok') {
    status = 'unknown';
    errors.push(`nothing flagged, but this run's history was not saved (see the state file note): the next run cannot tell what is new or how long a session has dwelt`);
  }
  return {
    status,
    checkedAtMs: outcome.takenAtMs,
    source: outcome.source,
    evaluation,
    // No count rule, no levels: not a {key, row} per connection for nothing.
    countLevels:
      outcome.ok && request.policy.counts.length > 0
        ? countLevels(
            request.policy,
            evaluation.views.map((v) => ({ key: v.connection.key, row: v.row })),
          )
        : [],
    diagnosis,
    leftOut: outcome.ok ? monitor.leftOut : new Map(),
    resets,
    errors,
    notices: [...outcome.notices, ...measurementNotes],
    measurementNotes,
    stateNotes: history.stateNotes,
    notifications: reconciled.notifications,
    deliveries,
    channels: channels.results,
    notificationsKept: history.state !== undefined,
  };
}

/** One round of an AlertLedger started from `reported`: reconcileAlerts(reported, currentAlerts(…), nowMs, renotifyMs). */
function reconcileOnce(reported: readonly ReportedAlert[], evaluation: Evaluation, nowMs: number, renotifyMs: number): { reported: readonly ReportedAlert[]; notifications: AlertNotification[] } {
  const ledger = new AlertLedger(reported);
  const notifications = ledger.reconcile(evaluation.views, evaluation.countFlags, nowMs, renotifyMs);
  return { reported: ledger.reported, notifications };
}

/**
 * Where a count rule's group and the rows listed disagree, why: a session the last reading missed
 * is kept as last read (listed, counted per state, flagged) until a second reading confirms the
 * close (a dump is not atomic), but a rule grouping by process (or matching process names) counts
 * only rows whose owner is found now, and a closed socket's owner is not. So `count: 2 CLOSE_WAIT
 * for process java[812]` beside four CLOSE_WAIT rows (session 8's break-it pass, `check --window`):
 * one note per such rule, saying how many it left out and why, and no more than that (whether they
 * closed, the next reading tells).
 */
function uncountedMissing(policy: Policy, views: readonly ConnectionView[], missing: ReadonlyMap<string, number> | undefined): string[] {
  if (!missing || missing.size === 0) return [];
  const notes: string[] = [];
  for (const rule of policy.counts) {
    if (rule.per !== 'process' && rule.match?.processes === undefined) continue;
    const left = new Map<TcpState, number>();
    for (let i = 0; i < views.length; i++) {
      const { row, connection } = views[i]!;
      if (row.process !== undefined || !rule.states.includes(row.state) || !missing.has(connection.key)) continue;
      left.set(row.state, (left.get(row.state) ?? 0) + 1);
    }
    if (left.size === 0) continue;
    const what = [...left].map(([state, n]) => `${n} ${state}`).join(', ');
    const them = [...left.values()].reduce((a, b) => a + b) === 1 ? 'it' : 'them';
    notes.push(
      `count rule ${rule.name} does not count ${what} kept as last read: the last reading missed ${them} (closed, or skipped by a dump, which is not atomic: the next reading tells) and no owner is found for ${them} now`,
    );
  }
  return notes;
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

/**
 * Saves the state file; whether it was written. One that cannot be saved (full, read-only) is one
 * note, and one that lock or read found must not be written (they noted why) is not: the report
 * still goes out, and the caller decides what an unsaved history costs its status.
 */
async function saveState(stateFile: StateFile, text: string, notes: string[]): Promise<boolean> {
  if (!stateFile.writable) return false;
  try {
    await stateFile.write(text);
    return true;
  } catch (error) {
    if (!(error instanceof StateFileUnusableError)) throw error;
    notes.push(error.message);
    return false;
  }
}

/**
 * The state file's sections, and this table's history in them. A corrupt or foreign state file is
 * reported, kept aside, and replaced: never fatal. One that could not be read is one note and is
 * left as it is (StateFile then does not write). A restart of the host drops the history of its
 * earlier boot, with one line saying so.
 */
async function loadState(stateFile: StateFile, table: TableIdentity, platform: Platform, notes: string[]): Promise<{ book: StateBook; history: CheckState | undefined }> {
  // Loaded only with a state file: the codec brings the zod library (--no-state starts without it).
  const { StateBook, StateDecodeError } = await import('./tracker-codec.js');
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
    const book = StateBook.decode(text, platform.nowMs());
    const forgotten = book.forgetOtherBoots(table);
    if (forgotten.tables > 0) {
      notes.push(
        `the host restarted since ${stateFile.path} was written (boot id changed): history of ${plural(forgotten.tables, 'socket table')} and ${plural(forgotten.alerts, 'reported alert')} from before the restart dropped, starting fresh`,
      );
    }
    const history = book.historyOf(table);
    if (book.damagedSections > 0) {
      notes.push(`state file ${stateFile.path}: ${plural(book.damagedSections, 'damaged section')} dropped; the other tables' history is kept`);
    }
    if (book.droppedRecords > 0) {
      notes.push(
        `state file ${stateFile.path}: ${plural(book.droppedRecords, 'record')} with an impossible time stamp or amount (not finite, before 2000, or in the future) dropped; the rest of the history is kept`,
      );
    }
    if (book.damagedBacklogs > 0) {
      notes.push(
        `state file ${stateFile.path}: ${book.damagedBacklogs} notifier backlog${book.damagedBacklogs === 1 ? ' was' : 's were'} damaged and dropped (those undelivered notifications are lost); the connections' and alerts' history is kept`,
      );
    }
    return { book, history };
  } catch (error) {
    if (!(error instanceof StateDecodeError)) throw error;
    // A file this run may not write (its lock failed, and said why) is not set aside either: it is
    // left as it is, and one line has told what is wrong.
    if (!stateFile.writable) return { book: StateBook.empty(), history: undefined };
    try {
      const aside = await stateFile.setAside(platform.nowMs());
      notes.push(`state file ${stateFile.path} is unusable (${error.message}); kept as ${aside}, starting without history`);
    } catch (asideError) {
      if (!(asideError instanceof StateFileUnusableError)) throw asideError;
      notes.push(asideError.message);
    }
    return { book: StateBook.empty(), history: undefined };
  }
}

/** Timing of `check`'s sample: one poll, or one every `intervalMs` across `windowMs` (`--window`). */
interface SampleTiming {
  clock: PollClock;
  signal: AbortSignal;
  intervalMs: number;
  windowMs?: number;
  /**
   * Whether the last reading calls for a second one at once (flaggedButMissing): a dump is not an
   * atomic snapshot, so a session missing from one reading is kept as it was (still flagged) until
   * a second reading confirms it closed; a flagged one (just reset, or closed since the last run)
   * would otherwise be reported stuck on one reading's word.
   */
  readAgain?: () => boolean;
}

/**
 * Whether a session the last reading did not list (`TrackerState.unconfirmedAbsence`) is flagged
 * by its own thresholds as last seen (evaluateConnection on its last row: a rule on process names
 * sees the owner that row has). Count groups are left out: a member's absence changes a count,
 * not a session's flag.
 */
function flaggedButMissing(monitor: Monitor, policy: Policy): boolean {
  const tracker = monitor.tracker;
  const missing = tracker.unconfirmedAbsence;
  if (!missing || missing.size === 0 || tracker.lastPollMs === undefined) return false;
  for (const key of missing.keys()) {
    const connection = tracker.connections.get(key);
    if (!connection) continue;
    const timing = timingOf(connection, tracker.lastPollMs);
    if (evaluateConnection(policy, { row: connection.row, ...timing })) return true;
  }
  return false;
}

/**
 * One poll, or polls every `intervalMs` for `windowMs`; the last completed poll's result decides,
 * with the notices of every poll. An interrupt cuts the window short (the poll it interrupted is
 * dropped, and a notice says so); an interrupt before any poll completed proves nothing: a failed
 * outcome, which makes the check UNKNOWN. Where `readAgain` asks after the last poll, one more
 * reading at once decides instead.
 */
async function sampleTable(monitor: Monitor, timing: SampleTiming): Promise<PollOutcome> {
  const notices = new Set<string>();
  const loop = new PollLoop({
    clock: timing.clock,
    signal: timing.signal,
    intervalMs: timing.intervalMs,
    ...(timing.windowMs === undefined ? { maxPolls: 1 } : { windowMs: timing.windowMs }),
    failureReporting: 'none',
  });
  // The loop hands on a first poll cut short by the interrupt as a failed poll: it did not complete.
  let firstCutShort = false;
  let polled = false;
  const poll = async () => {
    const outcome = await pollThrough(monitor);
    if (timing.signal.aborted && !outcome.ok) firstCutShort ||= !polled;
    polled = true;
    return outcome;
  };
  const end = await loop.run({ poll, onPoll: (outcome) => outcome.notices.forEach((n) => notices.add(n)) });
  if (end.last?.ok && !timing.signal.aborted && timing.readAgain?.()) {
    const again = await pollThrough(monitor);
    again.notices.forEach((n) => notices.add(n));
    return { ...again, notices: [...notices] };
  }
  if (!end.last) {
    const nowMs = timing.clock.nowMs();
    return { ok: false, takenAtMs: nowMs, source: monitor.sourceName, notices: [], error: 'interrupted before the socket table was read', events: [], durationMs: 0 };
  }
  if (end.reason === 'interrupted' && timing.windowMs !== undefined) {
    notices.add(
      firstCutShort
        ? '--window cut short by an interrupt during the first poll: nothing was read'
        : `--window cut short by an interrupt after ${plural(end.polls, 'poll')}: the last completed poll decides`,
    );
  }
  return { ...end.last, notices: [...notices] };
}

/**
 * The evaluation as far as it proves anything when owners could not be read and rules name
 * processes: each flagged session without an owner keeps the severity severityWhateverOwner
 * proves, or is left out (counted in `unproven`) when no severity is proven.
 */
/**
 * What a SYN_RECEIVED whose age was not read this poll (row.ageUnknown: its /proc/net/tcp* timeout
 * count) proves. Its dwell as tracked is proven, a lower bound: the time since first seen (over runs
 * kept in a state file) or since the poll that saw it enter. The age before that is not known; it
 * leaves the verdict unproven (pushed to `unproven`: UNKNOWN unless the rest proves a WARNING) only
 * where it could change it: flag it, or make its flag critical. It is bounded where a poll saw the
 * flow not in the state (tracker enteredAfterMs): it entered since. Otherwise a note says what the
 * verdict rests on. Mutates `unproven` and `notes`.
 */
function unknownAgeProof(policy: Policy, evaluation: Evaluation, outcome: PollOutcome, unproven: string[], notes: string[]): void {
  let unknownAge = 0;
  let couldChange = 0;
  let flaggedCouldChange = 0;
  for (const view of evaluation.views) {
    if (!view.row.ageUnknown || view.row.state !== TcpState.SYN_RECEIVED) continue;
    unknownAge++;
    const { connection, timing } = view;
    const atMostMs = connection.dwellSource === 'observed' && connection.enteredAfterMs !== undefined ? outcome.takenAtMs - connection.enteredAfterMs : Infinity;
    if (!dwellCouldRaiseSeverity(policy, { row: view.row, dwellMs: timing.dwellMs, halfCloseTimerMs: timing.halfCloseTimerMs, idleMs: timing.idleMs }, atMostMs)) continue;
    couldChange++;
    if (view.flag) flaggedCouldChange++;
  }
  if (unknownAge === 0) return;
  const why = outcome.dwellUnknown?.length ? outcome.dwellUnknown.join('; ') : `the age of ${plural(unknownAge, 'SYN_RECEIVED socket')} not read`;
  if (couldChange > 0) {
    unproven.push(why);
    if (flaggedCouldChange > 0) {
      const one = flaggedCouldChange === 1;
      notes.push(
        `${plural(flaggedCouldChange, 'flagged SYN_RECEIVED session')} judged on ${one ? 'its' : 'their'} time in the state since first seen, a lower bound (${why}): ${one ? 'it' : 'they'} may be more severe`,
      );
    }
    return;
  }
  notes.push(`${why}: judged on ${unknownAge === 1 ? 'its' : 'their'} time in the state as the polls saw it, which the unread age cannot change`);
}

/** A proven status's rank: what an unread owner's severity must exceed to change it (unknown proves none). */
const STATUS_RANK: Readonly<Record<CheckStatus, number>> = { ok: 0, unknown: 0, ...SEVERITY_RANK };

/** The note on a WARNING the unread owners could make critical. */
function ownersHiddenNote(why: string, policy: Policy): string {
  const counts = policy.counts.some((c) => c.per === 'process' || c.match?.processes !== undefined);
  return `${why}: with their owners the verdict may be more severe${counts ? ' (counts per process are of the sockets whose owner was read)' : ''}`;
}

function ownerHiddenProof(policy: Policy, evaluation: Evaluation): { evaluation: Evaluation; unproven: number } {
  let unproven = 0;
  const views: ConnectionView[] = [];
  for (const view of evaluation.views) {
    if (!view.flag || view.flag.kind === 'count' || view.row.pid !== undefined) {
      views.push(view);
      continue;
    }
    const severity = severityWhateverOwner(policy, { row: view.row, dwellMs: view.timing.dwellMs, halfCloseTimerMs: view.timing.halfCloseTimerMs, idleMs: view.timing.idleMs });
    if (severity === undefined) unproven++;
    else views.push(severity === view.flag.severity ? view : { ...view, flag: { ...view.flag, severity } });
  }
  return { evaluation: { ...evaluation, views }, unproven };
}
