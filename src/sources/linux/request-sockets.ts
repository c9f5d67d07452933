import { connectionKey, type SocketRow } from '../../core/connection.js';
import { TcpState } from '../../core/tcp-state.js';
import { plural } from '../../core/plural.js';
import type { Platform } from '../../platform/platform.js';
import type { SourceReading } from '../source.js';
import { procfsSource, readProcNetTables, type ProcNetFile } from './procfs.js';

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

/**
 * Gives the SYN_RECEIVED rows of a table read through sock_diag (ss) the timeout count and timer
 * of the same request socket in `<procRoot>/net/tcp*` (or as `procRoot` reads them from inside the
 * namespace), so their age is known at first sight.
 * Reads procfs only when there is such a row; rows procfs does not list (the handshake completed in
 * between) and every row when procfs cannot be read keep what they had. Rows without an inode (ss
 * without -e) take theirs from the same read, so owners need no second procfs read this poll
 * (ProcOwners completes inodes from procfs only for rows that lack one). Mutates `rows`.
 */
export async function addRequestSocketTimeouts(platform: Platform, procRoot: string | ProcNetReader, rows: readonly SocketRow[]): Promise<void> {
  const requests = rows.filter((row) => row.state === TcpState.SYN_RECEIVED);
  if (requests.length === 0) return;
  let procRows: SocketRow[];
  try {
    procRows =
      typeof procRoot === 'string'
        ? (await procfsSource.read(platform, { procRoot })).rows
        : (
            await readProcNetTables(
              (file, onLine) => procRoot.readTable(file, onLine),
              (file) => `${procRoot.where}/${file}`,
              platform.littleEndian,
            )
          ).rows;
  } catch {
    // A /proc that shows the namespace but fails to read: ss's counts stay, and prove what they can.
    // (Not said as unknown here: /proc/net/tcp is world-readable, so this is a --proc-root that is
    // no procfs, or a process that exited since it was found; see addRequestSocketAges.)
    return;
  }
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
}

/**
 * addRequestSocketTimeouts from `netProcDir`, a /proc directory showing the namespace the rows were
 * read in, or a reader of its tables from inside it (a `--netns` namespace no process is in: only its
 * `ip netns` mount holds it, so no /proc/<pid> shows it), or undefined where there is neither. Fail closed there: a SYN_RECEIVED whose timeout count cannot be read has an
 * unknown age at first sight, not 0 (its dwell would start at 0 and prove nothing flagged), so
 * `reading` gets a notice and a phrase in SourceReading.dwellUnknown (check says UNKNOWN unless the
 * rest proves a WARNING). It is the only first-sight age netlink and ss take from procfs. Mutates
 * `rows` and `reading`.
 */
export async function addRequestSocketAges(
  platform: Platform,
  netProcDir: string | ProcNetReader | undefined,
  rows: readonly SocketRow[],
  reading: Pick<SourceReading, 'notices' | 'dwellUnknown'>,
): Promise<void> {
  if (netProcDir !== undefined) return addRequestSocketTimeouts(platform, netProcDir, rows);
  const count = rows.filter((row) => row.state === TcpState.SYN_RECEIVED).length;
  if (count === 0) return;
  const sockets = plural(count, 'SYN_RECEIVED socket');
  const why = 'no process is in the namespace, so /proc shows no table of it';
  reading.notices.push(`the timeout count of ${sockets} (its age in SYN_RECEIVED) could not be read (${why}): dwell not known (only how long since first seen), not 0`);
  (reading.dwellUnknown ??= []).push(`the age of ${sockets} not read (${why})`);
}
