import { AppendLog } from '../platform/append-log.js';
import type { CliContext } from './context.js';
import { UsageError } from './parse-command-line.js';
import { errorCode } from '../platform/platform.js';
import { sanitizeLine } from '../output/sanitize.js';

/** `--log FILE` of the long-running modes: JSON lines appended, reopened on SIGHUP. */
export interface EventSink {
  write(entries: readonly Record<string, unknown>[]): Promise<void>;
  close(): Promise<void>;
}

export async function openEventLog(path: string | undefined, context: CliContext): Promise<EventSink | undefined> {
  if (path === undefined) return undefined;
  const log = new AppendLog(path);
  try {
    await log.open();
  } catch (error) {
    const code = errorCode(error);
    throw new UsageError(`cannot open log file ${path}: ${code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`);
  }
  const unsubscribe = context.onHangup(() => {
    log.reopen().catch((error: unknown) => context.stderr.write(`tcpdwell: ${sanitizeLine(`cannot reopen log file ${path}: ${(error as Error).message}`)}\n`));
  });
  return {
    write: (entries) =>
      log.write(entries.map((e) => JSON.stringify(e))).catch((error: unknown) => {
        context.stderr.write(`tcpdwell: ${sanitizeLine(`cannot write log file ${path}: ${(error as Error).message}`)}\n`);
      }),
    close: async () => {
      unsubscribe();
      await log.close();
    },
  };
}
