import { formatEndpoint } from '../../core/address.js';
import type { SocketRow } from '../../core/connection.js';
import { TcpState } from '../../core/tcp-state.js';
import { errorCode, type Platform } from '../../platform/platform.js';
import { SourceUnavailableError } from '../source.js';
import { opensNamespace } from './netns.js';
import { nsenterPrefix } from './netns-reader.js';
import { cookieHalves, parseNetlinkAck, parseSockDiag, socketIdOf, sockDestroyRequest, sockDiagLookupRequest, type SockDiagSocketId } from './parse-sock-diag.js';
import { errnoName, openSockDiagChannel, SockDiagStepError, type NetnsTarget, type SockDiagExchanger } from './sock-diag-dump.js';
import { SS_STATE_WORDS } from './ss.js';

// Ending one socket through the kernel's socket-destroy interface (SOCK_DESTROY; the kernel's side
// is told in parse-sock-diag.ts): the owner's next call on it fails with ECONNABORTED and the peer
// gets a RST. Two ways, the first that applies:
//   - SOCK_DESTROY ourselves, with the row's socket cookie (netlink source rows): the kernel ends
//     the socket with that cookie on that 4-tuple, or none. A 4-tuple reused by a newer socket
//     since the poll is therefore never ended by mistake; such a refusal is final (never retried
//     with ss -K, which would end the newer socket). SOCK_DESTROY ends the socket whatever its
//     state is when it arrives, so an exact lookup with the cookie comes first, and a socket whose
//     state is no longer the one seen is left alone (see `destroy`).
//     A row of another network namespace (--netns) is ended there: the channel's worker thread opens
//     its sock_diag socket inside it (sock-diag-dump.ts), after checking the file still opens it.
//   - `ss -K` with a filter naming the exact state and both endpoints (rows without a cookie, rows
//     whose namespace cannot be entered, no koffi, or a kernel without SOCK_DESTROY for TCP): it
//     matches the one connection that holds the 4-tuple in that state when ss runs.

/**
 * How a socket was (or was to be) ended: our own sock_diag requests with its cookie (the lookup of
 * its state now, then SOCK_DESTROY), `ss -K`, or Windows' SetTcpEntry.
 */
export type KillMethod = 'SOCK_DESTROY' | 'ss -K' | 'SetTcpEntry';

/**
 * `alreadyGone`: nothing was left to end (often the RST of an earlier reset ended it). `via`: the
 * way tried (absent where nothing was tried, e.g. a refused LISTEN row). `reusedTuple`: the socket
 * seen is gone and a newer one holds its 4-tuple now; it was left alone. `stateNow`: the socket
 * seen is still there but no longer in the state seen at the poll (the state it is in now); it was
 * left alone.
 */
export type KillOutcome = { ended: true; alreadyGone?: boolean; via?: KillMethod } | { ended: false; reason: string; via?: KillMethod; reusedTuple?: boolean; stateNow?: TcpState };

/** Why a row must not be reset, or undefined when it may be. */
export function refusalReason(row: SocketRow): string | undefined {
  if (row.state === TcpState.LISTEN) return 'a listening socket is never reset';
  if (row.state === TcpState.TIME_WAIT) return 'TIME_WAIT is a normal close; it ends by itself';
  // ss -K names the state in its filter, so a state without an ss word cannot be reset; CLOSED holds no connection.
  if (row.state === TcpState.CLOSED || !SS_STATE_WORDS[row.state]) return `${row.state} sockets cannot be reset`;
  return undefined;
}

/** The argv that ends exactly this socket. IPv4-mapped rows of tcp6 sockets are named as ::ffff:a.b.c.d. */
export function killArgv(row: SocketRow): string[] {
  const family = row.protocol === 'tcp6' ? '-6' : '-4';
  const endpoint = (e: SocketRow['local']) => (row.protocol === 'tcp6' && !e.address.includes(':') ? `[::ffff:${e.address}]:${e.port}` : formatEndpoint(e));
  return ['ss', '-K', '-t', '-n', family, 'state', SS_STATE_WORDS[row.state] ?? 'all', 'src', endpoint(row.local), 'dst', endpoint(row.remote)];
}

export interface SocketKillerOptions {
  /** Opens the sock_diag channel (tests inject one); libc through koffi by default (sock-diag-dump.ts). */
  openChannel?: (littleEndian: boolean) => SockDiagExchanger;
}

/**
 * Ends sockets one at a time, holding one sock_diag channel (opened at the first row with a cookie)
 * until `close`. `kill` never throws: every failure is an outcome with its reason.
 */
export class SocketKiller {
  private channel: SockDiagExchanger | undefined;
  /** Why SOCK_DESTROY is not used here (no koffi, refused socket, unsupported): ss -K for the rest. */
  private unavailable: string | undefined;
  private sequence = 0;

  constructor(
    private readonly platform: Platform,
    private readonly options: SocketKillerOptions = {},
  ) {}

  async kill(row: SocketRow): Promise<KillOutcome> {
    const refusal = refusalReason(row);
    if (refusal) return { ended: false, reason: refusal };
    // Another namespace's socket is searched for by a netlink socket opened in it (its file, when known).
    if (row.cookie !== undefined && (!row.netns || row.netns.path !== undefined) && this.unavailable === undefined) {
      const id = socketIdOf(row);
      if (typeof id !== 'string') {
        const outcome = await this.destroy(row, id);
        if (outcome) return outcome;
      }
    }
    return killWithSs(this.platform, row);
  }

  close(): void {
    this.channel?.close();
    this.channel = undefined;
  }

  /**
   * The socket's state now (exact lookup with the cookie), then SOCK_DESTROY with the cookie if it is
   * still the state seen; undefined when a request never reached the kernel or the kernel has no
   * SOCK_DESTROY for TCP (then ss -K, whose filter names the state seen: the same rule).
   */
  private async destroy(row: SocketRow, id: SockDiagSocketId): Promise<KillOutcome | undefined> {
    const now = await this.lookUp(row, id);
    if (now === 'gone') return this.notFound(row, id);
    if (now === undefined || 'ended' in now) return now;
    // Only the exact state seen is the session selected, as with ss -K's state filter. A socket
    // that moved on has left the state it was selected for (--state, --kind, a flag's dwell in that
    // state), even where the move looks like the same close going on: SYN_SENT → ESTABLISHED is a
    // healthy connection now; CLOSE_WAIT → LAST_ACK means its owner closed it (the leak is over, and
    // LAST_ACK ends by itself); FIN_WAIT_1 → FIN_WAIT_2 means the peer acknowledged our FIN, the
    // progress the stuck FIN_WAIT_1 lacked. Ending any of them would end a session nobody selected.
    if (now.state !== row.state) {
      return {
        ended: false,
        via: 'SOCK_DESTROY',
        stateNow: now.state,
        reason: `its state moved on since the poll (${row.state} then, ${now.state} now): left alone`,
      };
    }
    // The state can still move between this lookup and SOCK_DESTROY (no request ends a socket only
    // in a given state): the window shrinks from a poll interval to two netlink round trips.
    const sent = await this.exchange(row, (sequence, littleEndian) => sockDestroyRequest({ id, sequence, littleEndian }));
    if (sent === 'not sent') return undefined;
    // Sent, answer lost: the socket may be ended or not; ss -K could end a newer socket, so no retry.
    if ('lost' in sent) return { ended: false, via: 'SOCK_DESTROY', reason: `no answer from the kernel to SOCK_DESTROY (${sent.lost.message}); not retried with ss -K` };
    const ack = parseNetlinkAck(sent.answer, { sequence: sent.sequence, littleEndian: this.platform.littleEndian });
    if ('problem' in ack) return { ended: false, via: 'SOCK_DESTROY', reason: `unreadable answer to SOCK_DESTROY: ${ack.problem}` };
    if (ack.errno === 0) return { ended: true, via: 'SOCK_DESTROY' };
    const name = errnoName(ack.errno);
    switch (name) {
      case 'ENOENT':
      case 'ESTALE': // what sock_diag_check_cookie itself returns; tcp_diag answers ENOENT for both
        return this.notFound(row, id);
      case 'EPERM':
      case 'EACCES':
        return { ended: false, via: 'SOCK_DESTROY', reason: "permission denied: ending sockets needs CAP_NET_ADMIN in the socket's network namespace" };
      case 'EOPNOTSUPP':
        this.unavailable = 'this kernel has no SOCK_DESTROY for TCP (CONFIG_INET_DIAG_DESTROY)';
        return undefined;
      default:
        return { ended: false, via: 'SOCK_DESTROY', reason: `the kernel refused SOCK_DESTROY (${name})` };
    }
  }

  /**
   * One request on the sock_diag channel (opened at the first), in the row's namespace, built with
   * the next sequence number: the answer's datagrams and that number; 'not sent' when it never
   * reached the kernel (nothing happened, ss -K may try): its namespace could not be entered (gone,
   * or no CAP_SYS_ADMIN; ss -K through nsenter says why, for this row only), or no koffi,
   * NETLINK_SOCK_DIAG refused, send failed (`unavailable` from then on); `lost`: sent, but its
   * answer never came.
   */
  private async exchange(row: SocketRow, build: (sequence: number, littleEndian: boolean) => Uint8Array): Promise<{ answer: Uint8Array[]; sequence: number } | 'not sent' | { lost: Error }> {
    const littleEndian = this.platform.littleEndian;
    const sequence = ++this.sequence;
    try {
      this.channel ??= (this.options.openChannel ?? ((le) => openSockDiagChannel({ littleEndian: le })))(littleEndian);
      return { answer: await this.channel.exchange(build(sequence, littleEndian), netnsOf(row)), sequence };
    } catch (error) {
      if (error instanceof SockDiagStepError && error.step === 'netns') return 'not sent';
      if (error instanceof SourceUnavailableError || (error instanceof SockDiagStepError && error.step !== 'recv')) {
        this.unavailable = (error as Error).message;
        return 'not sent';
      }
      return { lost: error as Error };
    }
  }

  /**
   * The exact lookup with the cookie (SOCK_DIAG_BY_FAMILY, sockDiagLookupRequest): the socket seen
   * as it is now, 'gone' when the kernel has no socket with that 4-tuple and cookie, an outcome
   * (not ended) when the answer says neither, or undefined when the request never reached the kernel
   * (no koffi, NETLINK_SOCK_DIAG refused, send failed: nothing happened, ss -K may try).
   *
   * Fail closed: a lookup sent but not answered, refused, or answered in bytes that cannot be read
   * leaves the socket's state unknown, and a socket whose state is unknown is not ended (it may be
   * a healthy connection by now). Not retried with ss -K either: its state filter would hold, but
   * without the cookie it could end a newer socket on the same 4-tuple.
   */
  private async lookUp(row: SocketRow, id: SockDiagSocketId): Promise<SocketRow | 'gone' | Extract<KillOutcome, { ended: false }> | undefined> {
    const sent = await this.exchange(row, (sequence, littleEndian) => sockDiagLookupRequest({ id, sequence, littleEndian }));
    if (sent === 'not sent') return undefined;
    const unknown = (why: string) => ({ ended: false as const, via: 'SOCK_DESTROY' as const, reason: `${why}: its state is unknown, so it was left alone` });
    if ('lost' in sent) return unknown(`no answer from the kernel to the lookup of its state now (${sent.lost.message})`);
    const { answer, sequence } = sent;
    const littleEndian = this.platform.littleEndian;
    const ack = parseNetlinkAck(answer, { sequence, littleEndian });
    if ('problem' in ack) return unknown(`unreadable answer to the lookup of its state now (${ack.problem})`);
    if (ack.errno !== 0) {
      const name = errnoName(ack.errno);
      // ENOENT: no socket on the 4-tuple with that cookie (tcp_diag answers a cookie not the socket's
      // the same way); ESTALE is sock_diag_check_cookie's own answer, should a kernel pass it on.
      if (name === 'ENOENT' || name === 'ESTALE') return 'gone';
      return unknown(`the kernel refused the lookup of its state now (${name})`);
    }
    const parsed = parseSockDiag(answer, { littleEndian });
    const [found, ...more] = parsed.rows;
    if (!found || more.length > 0 || parsed.problems.length > 0) {
      const why = parsed.problems[0]?.message ?? `${parsed.rows.length} sockets in the answer, 1 expected`;
      return unknown(`unreadable answer to the lookup of its state now (${why})`);
    }
    // The kernel checked the cookie; a socket answered under another cookie is not the one seen.
    const foundCookie = found.cookie === undefined ? undefined : cookieHalves(found.cookie);
    if (!foundCookie || foundCookie[0] !== id.cookie?.[0] || foundCookie[1] !== id.cookie[1]) return unknown(`the lookup answered another socket (cookie ${found.cookie}, not ${row.cookie})`);
    return found;
  }

  /**
   * The kernel found no socket with that 4-tuple and cookie: the one seen is gone. Whether a newer
   * socket holds the 4-tuple now is asked by an exact lookup without the cookie (its answer may be
   * the port's listener, which is not a holder).
   */
  private async notFound(row: SocketRow, id: SockDiagSocketId): Promise<KillOutcome> {
    // The lookup only names the holder; the kernel has already said the socket seen is not there, so a failed one names none.
    const sent = await this.exchange(row, (sequence, littleEndian) => sockDiagLookupRequest({ id: { ...id, cookie: undefined }, sequence, littleEndian }));
    const holder =
      typeof sent === 'object' && 'answer' in sent
        ? parseSockDiag(sent.answer, { littleEndian: this.platform.littleEndian }).rows.find((r) => r.state !== TcpState.LISTEN && r.remote.port === row.remote.port)
        : undefined;
    if (holder && holder.cookie !== row.cookie) {
      return {
        ended: false,
        via: 'SOCK_DESTROY',
        reusedTuple: true,
        reason: `the socket seen (cookie ${row.cookie}) is gone and a newer one (cookie ${holder.cookie}, ${holder.state}) holds its 4-tuple now: left alone`,
      };
    }
    if (holder) return { ended: false, via: 'SOCK_DESTROY', reason: `the kernel answered ENOENT though the socket (cookie ${row.cookie}) is still there` };
    return { ended: true, alreadyGone: true, via: 'SOCK_DESTROY' };
  }
}

/** The namespace a row of `--netns` is ended in (its file must still open its inode); none for this process's own. */
function netnsOf(row: SocketRow): NetnsTarget | undefined {
  return row.netns?.path === undefined ? undefined : { path: row.netns.path, inode: row.netns.inode };
}

/** `ss -K` with a filter naming the state and both endpoints (killArgv), inside the row's namespace. */
async function killWithSs(platform: Platform, row: SocketRow): Promise<KillOutcome> {
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
    return { ended: false, via: 'ss -K', reason: errorCode(error) === 'ENOENT' ? `${prefix.length > 0 ? 'nsenter (util-linux) or ' : ''}ss (iproute2) is not installed` : (error as Error).message };
  }
  // ss -K prints a header and one line per socket it ended; it exits 0 even when the kernel refused.
  const ended = result.stdout
    .split('\n')
    .slice(1)
    .filter((line) => line.trim()).length;
  if (ended > 0) return { ended: true, via: 'ss -K' };
  if (/Operation not permitted|Permission denied/i.test(result.stderr)) return { ended: false, via: 'ss -K', reason: 'permission denied: ending sockets needs root (CAP_NET_ADMIN)' };
  if (/Operation not supported|Protocol not supported/i.test(result.stderr)) return { ended: false, via: 'ss -K', reason: 'this kernel has no socket-destroy support (CONFIG_INET_DIAG_DESTROY)' };
  if (result.exitCode !== 0) return { ended: false, via: 'ss -K', reason: result.stderr.trim().split('\n')[0] || `ss exited ${result.exitCode}` };
  return { ended: true, alreadyGone: true, via: 'ss -K' };
}
