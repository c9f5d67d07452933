import type { PollOutcome } from '../app/monitor.js';
import type { PollClock } from '../app/poll-loop.js';
import type { Platform } from '../platform/platform.js';
import { sanitizeLine } from '../output/sanitize.js';

/** Everything a command may touch, injected so whole-command tests run on fakes. */
export interface CliContext {
  platform: Platform;
  /**
   * `drained`: resolves once what was written has left the process's buffer (at once when nothing
   * waits, or when the output is lost), or when `signal` aborts. A long-running mode waits for it
   * before its next poll, so a reader that stalls (`| sleep`) pauses the polls instead of letting
   * unread output pile up in memory.
   */
  stdout: { write(text: string): unknown; isTTY?: boolean; drained?(signal: AbortSignal): Promise<void> };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Waits, unless the signal aborts first (Ctrl-C in --watch). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Aborted on SIGINT/SIGTERM. */
  interrupt: AbortSignal;
  /**
   * Ends the command as SIGINT does: aborts `interrupt`, so a command or read under way is killed
   * at once. For the dashboard, whose q and Ctrl-C arrive as keys, not as a signal.
   */
  stop?(): void;
  /** The terminal, when stdin and stdout are both one: the dashboard draws there. */
  terminal?: { input: NodeJS.ReadStream; output: NodeJS.WriteStream };
  /** Calls `listener` on SIGHUP (log rotation); returns the unsubscribe. */
  onHangup(listener: () => void): () => void;
}

/**
 * Whether the terminal can draw the dashboard: not TERM=dumb (no cursor movement; emacs' shell,
 * some CI consoles), where a full-screen view would be run-together text. An unset TERM is
 * drawn as xterm.
 */
export function canDrawFullScreen(env: NodeJS.ProcessEnv): boolean {
  return env.TERM !== 'dumb';
}

/** The one line every command prints when a poll could not read the socket table. */
export function reportPollFailure(context: CliContext, outcome: PollOutcome): void {
  context.stderr.write(`tcpdwell: ${sanitizeLine(`cannot read the socket table (source ${outcome.source}): ${outcome.error}`)}\n`);
}

/**
 * Says each source notice (degraded but usable: lines skipped, a table or namespace not read, a
 * fallback) once on stderr, `tcpdwell: TEXT`, sanitized; `key` (default: the text) decides what
 * counts as said. Long-running modes call it every poll: remembers at most 256 keys, then starts over.
 */
export function noticeReporter(context: CliContext): (text: string, key?: string) => void {
  const said = new Set<string>();
  return (text, key = text) => {
    if (said.has(key)) return;
    if (said.size >= 256) said.clear();
    said.add(key);
    context.stderr.write(`tcpdwell: ${sanitizeLine(text)}\n`);
  };
}

/** The poll loop's clock: the platform's time and the context's interruptible sleep (a fake in tests). */
export function pollClock(context: CliContext): PollClock {
  return { nowMs: () => context.platform.nowMs(), sleep: (ms, signal) => context.sleep(ms, signal) };
}
