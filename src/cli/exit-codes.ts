import { ConfigError } from '../config/config-error.js';
import type { CheckStatus } from '../core/evaluate.js';
import { ListenError, OutputFileError } from '../platform/errors.js';
import { StateFileLockedError, StateFileRefusedError } from '../platform/state-file.js';
import { InputError } from '../sources/input-files.js';
import { SourceError } from '../sources/source.js';
import { UsageError } from './parse-command-line.js';

// Every exit code, in one place (README "Exit codes"). 0-3 follow the Nagios plugin convention so
// `check` plugs into any monitoring system unchanged; the others follow sysexits.h.
export const ExitCode = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  /**
   * The socket table could not be read (watch/serve: no poll succeeded before the end), or another
   * run holds the state file; check: nothing flagged, but part of the table was not read or this
   * run's history was not saved; list/reset: a selection by process where owners are unknown.
   */
  UNKNOWN: 3,
  /** Bad command line: unknown flag or source, malformed duration, state or port. */
  USAGE: 64,
  /** --input: a file holds no socket table tcpdwell can read (each file's reason is given); never OK. */
  DATA: 65,
  /** --input: a file could not be opened (and none was unusable). */
  NO_INPUT: 66,
  /** EX_UNAVAILABLE: serve cannot listen on its address (in use, not local, a privileged port). */
  UNAVAILABLE: 69,
  /** EX_CANTCREAT: an output file (--log) cannot be created or opened. */
  CANT_CREATE: 73,
  /**
   * stdout could not be written (not a closed pipe or terminal: those end quietly), e.g. a full
   * disk; or `--log` lines were lost and not recovered before exit (instead of OK only).
   */
  IO_ERROR: 74,
  /** check: a notifier failed (stderr names it); its notifications are sent again on the next run. */
  NOTIFY_FAILED: 75,
  /** Internal error: a bug. The message says how to get the stack trace. */
  SOFTWARE: 70,
  /**
   * EX_CONFIG: bad config file (the message names file, line and field), or a state file refused as
   * unsafe: a symbolic link, or it or its directory not the running user's or writable by others.
   */
  CONFIG: 78,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeForStatus(status: CheckStatus): ExitCode {
  return { ok: ExitCode.OK, warning: ExitCode.WARNING, critical: ExitCode.CRITICAL, unknown: ExitCode.UNKNOWN }[status];
}

export function exitCodeForError(error: unknown): ExitCode {
  if (error instanceof UsageError) return ExitCode.USAGE;
  if (error instanceof ConfigError || error instanceof StateFileRefusedError) return ExitCode.CONFIG;
  if (error instanceof InputError) return error.kind === 'unreadable' ? ExitCode.NO_INPUT : ExitCode.DATA;
  // Conditions of the host at run time, not of the command line: not 64.
  if (error instanceof ListenError) return ExitCode.UNAVAILABLE;
  if (error instanceof OutputFileError) return ExitCode.CANT_CREATE;
  if (error instanceof SourceError || error instanceof StateFileLockedError) return ExitCode.UNKNOWN;
  return ExitCode.SOFTWARE;
}
