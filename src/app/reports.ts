import type { Endpoint } from '../core/address.js';
import type { AlertNotification } from '../core/alerts.js';
import type { Diagnosis, Finding } from '../core/diagnosis.js';
import type { CheckStatus, ConnectionView, Evaluation } from '../core/evaluate.js';
import type { CountLevel, thresholdsFor } from '../core/policy.js';
import type { TcpState } from '../core/tcp-state.js';
import type { Delivery } from '../notify/notifiers.js';
import type { endSocket } from '../sources/end-socket.js';
import type { ChannelResult } from './notify-channels.js';

// What each use case of app/ returns: one typed report per command, built in one place and
// formatted by src/output/ (text, JSON, Nagios). Nothing here is printed or mapped to an exit code.

/** How an attempt to end one socket went: what sources/end-socket.ts gives, whatever the OS. */
export type EndOutcome = Awaited<ReturnType<typeof endSocket>>;

/** One session a command tried to end, and what happened. */
export interface ResetResult {
  view: ConnectionView;
  outcome: EndOutcome;
}

/** One `check` run: what it read, decided, ended, reported and delivered. */
export interface CheckReport {
  status: CheckStatus;
  /** When the deciding poll read the table (ms since the epoch). */
  checkedAtMs: number;
  source: string;
  /**
   * Every connection of the deciding poll with its flag, and the groups over a count limit. The
   * flagged views come first in presentation order (sortViews), and each state first appears where
   * it does in that order; the unflagged are not all ranked (core/evaluate rankFlaggedFirst), except
   * with count rules.
   */
  evaluation: Evaluation;
  /** Each count rule's largest group and its levels (Nagios perfdata). */
  countLevels: CountLevel[];
  diagnosis: Diagnosis;
  /**
   * Connections of the deciding poll that are not among `evaluation.views`, per state: a one-shot
   * reading left them out as provably unflagged (CheckRequest.screenFirstReading). They count in
   * the per-state counts and the totals as the views do. Empty when every connection is a view.
   */
  leftOut: ReadonlyMap<TcpState, number>;
  /** Sessions ended by `--reset`. */
  resets: ResetResult[];
  /** Why the table, or some `--input` files, could not be read (the status is then UNKNOWN). */
  errors: string[];
  /** The polls' notices, then `measurementNotes`: JSON `notices`, text `note:` lines. */
  notices: string[];
  /** What the thresholds asked for and the source could not measure (also Nagios long output). */
  measurementNotes: string[];
  /** Why history was not read or will not be kept: one line each, never fatal. */
  stateNotes: string[];
  /** What is new since the runs before (flagged, reminder, escalated, deescalated, resolved). */
  notifications: AlertNotification[];
  /** Each notifier's result; a failed one's notifications are sent again next run. */
  deliveries: Delivery[];
  /** Each notifier called, as a channel: what it was sent, kept for next run, or dropped. */
  channels: ChannelResult<Delivery>[];
  /** Whether undelivered notifications are kept (a state file is in use) for the next run. */
  notificationsKept: boolean;
}

/** One `list` poll: the rows shown, and what the command must say about them. */
export interface ListReport {
  takenAtMs: number;
  /** The whole table of this poll (for the event log). */
  evaluation: Evaluation;
  /** The selected rows, in list order. */
  views: ConnectionView[];
  /** With `--why`: the diagnosis over the whole table; undefined without. */
  diagnosis: Diagnosis | undefined;
  /** Some owners could not be looked up for lack of permission. */
  ownersHidden: boolean;
  /** With --numbered: each row's place in the whole table (1-based), as `explain N` counts. */
  places: ReadonlyMap<ConnectionView, number> | undefined;
}

/** `explain` of one connection: the connection, its finding and the thresholds that apply. */
export type ExplainReport =
  | { found: true; view: ConnectionView; finding: Finding; thresholds: ReturnType<typeof thresholdsFor> }
  /** Not in the table of `rows` connections. */
  | { found: false; target: ConnectionTarget; rows: number };

/** A connection given either way round, or the n-th row of `tcpdwell list`. */
export type ConnectionTarget = { kind: 'connection'; local: Endpoint; remote: Endpoint } | { kind: 'row'; row: number };

/** `reset`: what the selection matched, what was refused, and what was ended. */
export type ResetReport =
  | {
      refused: false;
      dryRun: boolean;
      /** Selected sessions that may be ended. */
      candidates: ConnectionView[];
      /** Selected sessions that must not be ended here, each with why. */
      untouchable: { view: ConnectionView; reason: string }[];
      /** With --yes: what happened to each candidate. */
      results: ResetResult[];
      /** Why the selection is too broad for --yes alone (it needs --count or --all); undefined when it is not, or --all confirms it. */
      needsConfirmation: string | undefined;
    }
  /** Nothing was ended: the confirmation does not fit the selection (a usage error). */
  | { refused: true; reason: string };
