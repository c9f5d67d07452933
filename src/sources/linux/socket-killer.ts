import { formatEndpoint } from '../../core/address.js';
import type { SocketRow } from '../../core/connection.js';
import { TcpState } from '../../core/tcp-state.js';
import { errorCode, type Platform } from '../../platform/platform.js';
import { opensNamespace } from './netns.js';
import { nsenterPrefix } from './netns-reader.js';

// Ending one socket through the kernel's socket-destroy interface (SOCK_DESTROY, what `ss -K`
// uses): the owner's next call on it fails with ECONNABORTED. The filter names the exact state and
// both endpoints, so it can only match the one connection.

/** `alreadyGone`: nothing was left to end (often the RST of an earlier reset ended it). */
export type KillOutcome = { ended: true; alreadyGone?: boolean } | { ended: false; reason: string };

// ss filter words (ss(8) STATE-FILTER).
const SS_STATE_FILTER: Partial<Record<TcpState, string>> = {
  ESTABLISHED: 'established',
  SYN_SENT: 'syn-sent',
  SYN_RECEIVED: 'syn-recv',
  FIN_WAIT_1: 'fin-wait-1',
  FIN_WAIT_2: 'fin-wait-2',
  CLOSE_WAIT: 'close-wait',
  LAST_ACK: 'last-ack',
  CLOSING: 'closing',
};

/** Why a row must not be reset, or undefined when it may be. */
export function refusalReason(row: SocketRow): string | undefined {
  if (row.state === TcpState.LISTEN) return 'a listening socket is never reset';
  if (row.state === TcpState.TIME_WAIT) return 'TIME_WAIT is a normal close; it ends by itself';
  if (!SS_STATE_FILTER[row.state]) return `${row.state} sockets cannot be reset`;
  return undefined;
}

/** The argv that ends exactly this socket. IPv4-mapped rows of tcp6 sockets are named as ::ffff:a.b.c.d. */
export function killArgv(row: SocketRow): string[] {
  const family = row.protocol === 'tcp6' ? '-6' : '-4';
  const endpoint = (e: SocketRow['local']) => (row.protocol === 'tcp6' && !e.address.includes(':') ? `[::ffff:${e.address}]:${e.port}` : formatEndpoint(e));
  return ['ss', '-K', '-t', '-n', family, 'state', SS_STATE_FILTER[row.state] ?? 'all', 'src', endpoint(row.local), 'dst', endpoint(row.remote)];
}

export async function killSocket(platform: Platform, row: SocketRow): Promise<KillOutcome> {
  const refusal = refusalReason(row);
  if (refusal) return { ended: false, reason: refusal };
  // A socket of another network namespace is ended inside it (sock_diag answers for its own namespace only).
  let prefix: string[] = [];
  if (row.netns) {
    const { path, inode } = row.netns;
    if (path === undefined || !(await opensNamespace(platform, path, inode)))
      return { ended: false, reason: `its network namespace net:[${inode}] can no longer be opened (gone, or its process exited)` };
    prefix = nsenterPrefix(path);
  }
  let result;
  try {
    result = await platform.run([...prefix, ...killArgv(row)], { timeoutMs: 10_000 });
  } catch (error) {
    return { ended: false, reason: errorCode(error) === 'ENOENT' ? `${prefix.length > 0 ? 'nsenter (util-linux) or ' : ''}ss (iproute2) is not installed` : (error as Error).message };
  }
  // ss -K prints a header and one line per socket it ended; it exits 0 even when the kernel refused.
  const ended = result.stdout
    .split('\n')
    .slice(1)
    .filter((line) => line.trim()).length;
  if (ended > 0) return { ended: true };
  if (/Operation not permitted|Permission denied/i.test(result.stderr)) return { ended: false, reason: 'permission denied: ending sockets needs root (CAP_NET_ADMIN)' };
  if (/Operation not supported|Protocol not supported/i.test(result.stderr)) return { ended: false, reason: 'this kernel has no socket-destroy support (CONFIG_INET_DIAG_DESTROY)' };
  if (result.exitCode !== 0) return { ended: false, reason: result.stderr.trim().split('\n')[0] || `ss exited ${result.exitCode}` };
  return { ended: true, alreadyGone: true };
}
