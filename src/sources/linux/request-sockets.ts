import { connectionKey, type SocketRow } from '../../core/connection.js';
import { TcpState } from '../../core/tcp-state.js';
import { plural } from '../../core/plural.js';
import type { Platform } from '../../platform/platform.js';
import type { SourceReading } from '../source.js';
import { readProcNetTables, type ProcNetFile, type ProcNetTables } from './procfs.js';
import type { Protocol } from '../../core/address.js';

// A request socket (SYN-RECV) keeps two counts: num_retrans, the SYN/ACKs it re-sent, and
// num_timeout, the expiries of its timer. The timer backs off on num_timeout (reqsk_timer_handler
// in net/ipv4/inet_connection_sock.c re-arms it for min(timeout << num_timeout, TCP_RTO_MAX)), so only
// num_timeout proves the socket's age. sock_diag, and so ss, reports num_retrans
// (inet_req_diag_fill); /proc/net/tcp reports num_timeout (get_openreq4). With TCP_DEFER_ACCEPT, or
// when the SYN/ACKs stop, the two differ: ss's count then proves nothing (kernel-dwell.ts).

/**
 * Reads one table file of the namespace from inside it (`net/tcp`, `net/tcp6`, as under /proc/self),
 * handing each line to `onLine`; rejects as node:fs does (an error with its `code`). `where` names
 * it in notices. Only the header and the SYN_RECEIVED rows need be there.
 */
export interface ProcNetReader {
  where: string;
  readTable(file: ProcNetFile, onLine: (line: string) => void): Promise<void>;
}

/** `/proc/net/tcp`'s `st` for SYN_RECV (include/net/tcp_states.h TCP_SYN_RECV = 3), as the table prints it. */
export const PROC_SYN_RECV_STATE = '03';

/** A /proc directory showing the namespace, or a reader of its tables from inside it. */
export type RequestTablePlace = string | ProcNetReader;

/** Why the request sockets of each family have no timeout count this reading; empty when all were read. */
type UnreadTables = Partial<Record<Protocol, string>>;

/**
 * Gives the SYN_RECEIVED rows of a table read through sock_diag (ss) the timeout count and timer
 * of the same request socket in `<procRoot>/net/tcp*` (or as `procRoot` reads them from inside the
 * namespace), so their age is known at first sight.
 * Reads procfs only when there is such a row; rows procfs does not list (the handshake completed in
 * between) keep what they had. Rows without an inode (ss
 * without -e) take theirs from the same read, so owners need no second procfs read this poll
 * (ProcOwners completes inodes from procfs only for rows that lack one). Mutates `rows`. Returns,
 * for each family whose table could not be read in full, why (its request sockets' ages are not known).
 */
export async function addRequestSocketTimeouts(platform: Platform, procRoot: RequestTablePlace | readonly RequestTablePlace[], rows: readonly SocketRow[]): Promise<UnreadTables> {
  const requests = rows.filter((row) => row.state === TcpState.SYN_RECEIVED);
  if (requests.length === 0) return {};
  // The places in turn, until one gives both tables (a /proc/<pid> whose process exited since it
  // was found fails: then from inside the namespace).
  let table: ProcNetTables | undefined;
  let failure = 'not read';
  for (const place of typeof procRoot === 'string' || !Array.isArray(procRoot) ? [procRoot as RequestTablePlace] : procRoot) {
    try {
      const read =
        typeof place === 'string'
          ? await readProcNetTables(
              (file, onLine) => platform.readLines(`${place}/${file}`, onLine),
              (file) => `${place}/${file}`,
              platform.littleEndian,
              () => platform.isProcfs(`${place}/net/tcp`),
            )
          : await readProcNetTables(
              (file, onLine) => place.readTable(file, onLine),
              (file) => `${place.where}/${file}`,
              platform.littleEndian,
              // Read with cat in the namespace, from its own /proc: the kernel's procfs.
              async () => true,
            );
      if (!table || read.reading.completeProtocols.length > table.reading.completeProtocols.length) table = read;
      if (table.reading.completeProtocols.length === 2) break;
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
  }
  // Fail closed: ss's counts stay (they prove nothing here), and the ages are said not read.
  if (!table) return { tcp: failure, tcp6: failure };
  const unread: UnreadTables = {};
  for (const protocol of ['tcp', 'tcp6'] as const) if (!table.reading.completeProtocols.includes(protocol)) unread[protocol] = table.failures[protocol] ?? 'not read';
  const procRows = table.reading.rows;
  const lacksInodes = rows.some((row) => row.inode === undefined);
  const byKey = new Map<string, SocketRow>();
  for (const row of procRows) if (lacksInodes || row.state === TcpState.SYN_RECEIVED) byKey.set(connectionKey(row), row);
  for (const row of lacksInodes ? rows : requests) {
    const fromProcfs = byKey.get(connectionKey(row));
    if (!fromProcfs) continue;
    if (row.inode === undefined && fromProcfs.inode !== undefined) row.inode = fromProcfs.inode;
    if (row.state !== TcpState.SYN_RECEIVED || fromProcfs.state !== TcpState.SYN_RECEIVED || fromProcfs.retransmits === undefined || !fromProcfs.timer) continue;
    row.retransmits = fromProcfs.retransmits;
    row.timer = fromProcfs.timer;
  }
  return unread;
}

/**
 * addRequestSocketTimeouts from `netProcDir`, a /proc directory showing the namespace the rows were
 * read in, or a reader of its tables from inside it (a `--netns` namespace no process is in: only its
 * `ip netns` mount holds it, so no /proc/<pid> shows it), or both in turn (the directory first: a
 * process that exited since it was found fails it), or undefined where there is neither.
 * Fail closed where a SYN_RECEIVED's timeout count cannot be read (no such place, or its table
 * fails to read: EACCES, a /proc that is no procfs, a process gone since found, a table not the
 * kernel's): its age at first sight is unknown, not 0 (its dwell would start at 0 and prove nothing
 * flagged), so the row is marked `ageUnknown` and `reading` gets a notice naming what could not be
 * read and a phrase in SourceReading.dwellUnknown (check says UNKNOWN where that could change its
 * verdict). It is the only first-sight age netlink and ss take from procfs. Mutates `rows` and `reading`.
 */
export async function addRequestSocketAges(
  platform: Platform,
  netProcDir: RequestTablePlace | readonly RequestTablePlace[] | undefined,
  rows: readonly SocketRow[],
  reading: Pick<SourceReading, 'notices' | 'dwellUnknown'>,
): Promise<void> {
  let unread: UnreadTables;
  if (netProcDir !== undefined) unread = await addRequestSocketTimeouts(platform, netProcDir, rows);
  else {
    const why = 'no process is in the namespace, so /proc shows no table of it';
    unread = { tcp: why, tcp6: why };
  }
  const byWhy = new Map<string, number>();
  for (const row of rows) {
    if (row.state !== TcpState.SYN_RECEIVED) continue;
    const why = unread[row.protocol];
    // A row updated in place (ReadRequest.reuseRows) may carry the mark of an earlier reading.
    if (why === undefined) {
      if (row.ageUnknown) delete row.ageUnknown;
      continue;
    }
    row.ageUnknown = true;
    byWhy.set(why, (byWhy.get(why) ?? 0) + 1);
  }
  for (const [why, count] of byWhy) {
    const sockets = plural(count, 'SYN_RECEIVED socket');
    reading.notices.push(`the timeout count of ${sockets} (its age in SYN_RECEIVED) could not be read (${why}): dwell not known (only how long since first seen), not 0`);
    (reading.dwellUnknown ??= []).push(`the age of ${sockets} not read (${why})`);
  }
}
