import type { Protocol } from '../../core/address.js';
import { connectionKey, type SocketRow } from '../../core/connection.js';
import { errorCode, type Platform } from '../../platform/platform.js';
import { errnoWords } from '../../platform/errors.js';
import { UnusableInputError } from '../unusable-input.js';
import { SourceError, summarizeProblems, type SocketSource, type SourceReading } from '../source.js';
import { ProcNetTcpParser } from './parse-procfs.js';
import { appendAll } from '../../core/lists.js';

const PROC_HEADER = /^\s*sl\s+local_address/;

const TABLES = [
  { protocol: 'tcp', file: 'net/tcp' },
  { protocol: 'tcp6', file: 'net/tcp6' },
] as const satisfies readonly { protocol: Protocol; file: string }[];

export const procfsSource: SocketSource = {
  name: 'procfs',
  read: async (platform: Platform, { procRoot }): Promise<SourceReading> =>
    (
      await readProcNetTables(
        (file, onLine) => platform.readLines(`${procRoot}/${file}`, onLine),
        (file) => `${procRoot}/${file}`,
        platform.littleEndian,
        () => platform.isProcfs(`${procRoot}/net/tcp`),
      )
    ).reading,
};

/** The two tables' files, relative to a /proc directory. */
export type ProcNetFile = (typeof TABLES)[number]['file'];

/** A procfs reading, and why each table not in its completeProtocols was not read. */
export interface ProcNetTables {
  reading: SourceReading;
  failures: Partial<Record<Protocol, string>>;
}

/**
 * The procfs reading of `net/tcp` and `net/tcp6` wherever they are read: `readTable` hands each
 * line of one file to `onLine` and rejects as node:fs does (an error with its `code`); `pathOf`
 * names the file in notices. `onProcfs`: whether the tables are the kernel's procfs (the tcp file
 * read), where alone an absent tcp6 file proves IPv6 off; elsewhere (a copied tree given as
 * --proc-root) it is a table not read. Throws SourceError when neither table can be read.
 */
export async function readProcNetTables(
  readTable: (file: ProcNetFile, onLine: (line: string) => void) => Promise<void>,
  pathOf: (file: ProcNetFile) => string,
  littleEndian: boolean,
  onProcfs: () => Promise<boolean>,
): Promise<ProcNetTables> {
  const rows: SocketRow[] = [];
  const notices: string[] = [];
  const completeProtocols: Protocol[] = [];
  const failures: string[] = [];
  const failed: Partial<Record<Protocol, string>> = {};
  let readAny = false;
  for (const { protocol, file } of TABLES) {
    const path = pathOf(file);
    // Parsed as read: the kernel writes the next chunk (on libuv's thread) while this one is parsed.
    const parser = new ProcNetTcpParser({ littleEndian });
    // The kernel writes its `sl local_address …` header even over an empty table.
    let sawHeader = false;
    try {
      await readTable(file, (line) => {
        if (!sawHeader && PROC_HEADER.test(line)) sawHeader = true;
        parser.line(line);
      });
    } catch (error) {
      // No tcp6 file beside a readable tcp file means IPv6 is off (an empty table, read in full),
      // but only on the kernel's procfs: in any other tree the file was just not there to read.
      if (protocol === 'tcp6' && errorCode(error) === 'ENOENT' && readAny) {
        if (await onProcfs()) {
          completeProtocols.push(protocol);
          continue;
        }
        failures.push((failed[protocol] = `${path} does not exist and ${pathOf('net/tcp')} is not on the kernel's procfs (only there does a missing tcp6 table prove IPv6 off): tcp6 not read`));
        continue;
      }
      failures.push((failed[protocol] = `cannot read ${path}: ${errnoWords(error)}`));
      continue;
    }
    try {
      const parsed = parser.finish();
      if (parsed.rows.length === 0 && !(sawHeader && parsed.problems.length === 0)) {
        failures.push(
          (failed[protocol] = parsed.problems.length > 0 ? `${path}: no row could be read (${summarizeProblems(path, parsed.problems)[0]})` : `${path}: no header and no row: not the kernel's table`),
        );
        continue;
      }
      readAny = true;
      for (const row of parsed.rows) rows.push(row);
      appendAll(notices, summarizeProblems(path, parsed.problems));
      completeProtocols.push(protocol);
    } catch (error) {
      if (!(error instanceof UnusableInputError)) throw error;
      failures.push((failed[protocol] = `${path}: ${error.message}`));
    }
  }
  if (completeProtocols.length === 0) throw new SourceError(failures.join('; '));
  appendAll(notices, failures);
  // Here at least one table was read in full: with no rows, it is empty.
  return { reading: { source: 'procfs', rows, completeProtocols, notices, emptyTableProven: true }, failures: failed };
}

/**
 * The inode of each socket `<procRoot>/net/tcp*` lists, by connectionKey: for rows of a source that
 * printed none (ss without -e), since owners are found by inode; and the protocols whose table was
 * read in full. A socket of a protocol not read there has an unknown inode (so an unknown owner),
 * not none: callers say so. No protocol read when procfs cannot be read at all.
 */
export async function procfsInodes(platform: Platform, procRoot: string): Promise<{ byKey: Map<string, number>; shared: Map<string, number[]>; read: readonly Protocol[] }> {
  try {
    const reading = await procfsSource.read(platform, { procRoot });
    const byKey = new Map<string, number>();
    // A key listed more than once (an SO_REUSEPORT group's listeners) names no one inode: all of them, in `shared`.
    const shared = new Map<string, number[]>();
    for (const row of reading.rows) {
      const key = connectionKey(row);
      const inode = row.inode ?? 0;
      const earlier = byKey.get(key);
      if (earlier === undefined) byKey.set(key, inode);
      else {
        const all = shared.get(key);
        if (all) all.push(inode);
        else shared.set(key, [earlier, inode]);
      }
    }
    return { byKey, shared, read: reading.completeProtocols };
  } catch {
    return { byKey: new Map(), shared: new Map(), read: [] }; // no procfs view (the process left, or no /proc)
  }
}
