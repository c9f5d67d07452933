import type { Protocol } from '../core/address.js';
import type { SocketRow } from '../core/connection.js';
import type { Platform } from '../platform/platform.js';

export const SOURCE_NAMES = ['auto', 'ss', 'procfs'] as const;
export type SourceChoice = (typeof SOURCE_NAMES)[number];
export type SourceName = Exclude<SourceChoice, 'auto'>;

/** One read of a socket table. */
export interface SourceReading {
  source: SourceName;
  rows: SocketRow[];
  /** Protocols read in full (a flow of another protocol missing from `rows` is not closed). */
  completeProtocols: Protocol[];
  /** Degraded but usable: skipped lines, one table unreadable. Shown to the user, never fatal. */
  notices: string[];
}

export interface SourceOptions {
  /** Where procfs is mounted: /proc, or the host's /proc inside a container (e.g. /host/proc). */
  procRoot: string;
}

export interface SocketSource {
  name: SourceName;
  /** Throws SourceError when nothing usable could be read. */
  read(platform: Platform, options: SourceOptions): Promise<SourceReading>;
}

/** The source could not be read at all: `check` reports UNKNOWN. */
export class SourceError extends Error {
  override name = 'SourceError';
}

/** The source is not installed here (e.g. no `ss`): `auto` moves on to the next one. */
export class SourceUnavailableError extends SourceError {
  override name = 'SourceUnavailableError';
}

export function summarizeProblems(what: string, problems: readonly { line: number; message: string }[]): string[] {
  if (problems.length === 0) return [];
  const first = problems[0]!;
  return [`${what}: skipped ${problems.length} malformed line${problems.length === 1 ? '' : 's'} (first: line ${first.line}: ${first.message})`];
}

/** Host uptime from /proc/uptime, to reject impossible kernel timestamps; undefined if unreadable. */
export async function readUptimeMs(platform: Platform, procRoot: string): Promise<number | undefined> {
  try {
    const seconds = Number((await platform.readText(`${procRoot}/uptime`)).split(/\s+/)[0]);
    return Number.isFinite(seconds) ? seconds * 1000 : undefined;
  } catch {
    return undefined;
  }
}
