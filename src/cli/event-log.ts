import { AppendLog, type AppendResult } from '../platform/append-log.js';
import type { CliContext } from './context.js';
import { OutputFileError, errnoDetail, errnoWords } from '../platform/errors.js';
import { sanitizeLine } from '../output/sanitize.js';
import type { MonitorEvent } from '../app/event-stream.js';
import { eventToJson } from '../output/events.js';

/** `--log FILE` of the long-running modes: JSON lines appended, reopened on SIGHUP. */
export interface EventSink {
  write(events: readonly MonitorEvent[]): Promise<void>;
  /** Closes the file; resolves with the lines lost and not recovered before exit (0 when the log is whole). */
  close(): Promise<number>;
}

/**
 * The entry written where lines are missing (the disk was full, the file could not be written):
 * `{"event":"log-gap","at":ISO,"linesLost":N}` — N entries between the one before and the next.
 */
function logGapEntry(linesLost: number, atMs: number): Record<string, unknown> {
  return { event: 'log-gap', at: new Date(atMs).toISOString(), linesLost };
}

/**
 * Opens the event log; a path that cannot be opened at start is an OutputFileError (EX_CANTCREAT,
 * a condition of the host, not of the command line). Later failures
 * never stop the command: each is retried on the next event and on SIGHUP, the lines lost are
 * counted, stderr says when writing stopped and, once, how many lines were lost when it resumes
 * (or at exit), and the file gets a `log-gap` entry. Lines still lost at exit make the command's
 * exit IO_ERROR (74; `withPollingSession`): the log is not whole.
 */
export async function openEventLog(path: string | undefined, context: CliContext): Promise<EventSink | undefined> {
  if (path === undefined) return undefined;
  const log = new AppendLog(path, (lost) => JSON.stringify(logGapEntry(lost, context.platform.nowMs())));
  try {
    await log.open();
  } catch (error) {
    // Opened with O_CREAT: ENOENT means the directory is missing.
    throw new OutputFileError(`cannot open log file ${path}: ${errnoWords(error, { ENOENT: 'no such directory' })}`, { cause: error });
  }
  let failing = false;
  const report = (result: AppendResult, doing: string) => {
    if (!result.ok) {
      if (!failing)
        context.stderr.write(
          `tcpdwell: ${sanitizeLine(`cannot ${doing} log file ${path}: ${errnoDetail(result.error)}`)}; lost lines are counted and writing is retried at the next event and on SIGHUP\n`,
        );
      failing = true;
    } else if (failing || result.recoveredFrom > 0) {
      failing = false;
      if (result.recoveredFrom > 0) context.stderr.write(`tcpdwell: ${sanitizeLine(`log file ${path}`)} is written again; ${lostText(result.recoveredFrom)} lost (a log-gap entry marks the place)\n`);
    }
  };
  const unsubscribe = context.onHangup(() => {
    void log.reopen().then((result) => report(result, 'reopen'));
  });
  return {
    // Not an async function: the lines are made at once, and what it returns holds no event (a
    // pending async call would keep its argument, every slice of watch's first poll, until written).
    write: (events) => {
      if (events.length === 0 && !failing) return Promise.resolve();
      return log.write(events.map((e) => JSON.stringify(eventToJson(e)))).then((result) => report(result, 'write'));
    },
    close: async () => {
      unsubscribe();
      await log.close();
      const lost = log.linesLost;
      if (lost > 0) context.stderr.write(`tcpdwell: ${sanitizeLine(`log file ${path}`)}: ${lostText(lost)} lost and not recovered before exit\n`);
      return lost;
    },
  };
}

const lostText = (n: number) => (n === 1 ? '1 line was' : `${n} lines were`);
