import type { ParseProblem, SocketRow } from '../../core/connection.js';
import type { Platform } from '../../platform/platform.js';
import { SourceError, SourceUnavailableError, readUptimeMs, summarizeProblems, type ReadRequest, type SocketSource, type SourceReading } from '../source.js';
import { AF_INET, AF_INET6, ALL_TCP_STATES_MASK, AddressNames, SockDiagParser, kernelStatesMask, sockDiagRequest, tcpDiagRequest } from './parse-sock-diag.js';
import { addRequestSocketAges, PROC_SYN_RECV_STATE, type ProcNetReader, type RequestTablePlace } from './request-sockets.js';
import { ScreenedDump } from './screened-dump.js';
import { errnoName, NetnsEntryError, openSockDiagChannel, SockDiagStepError, type NetnsTarget, type SockDiagChannel } from './sock-diag-dump.js';

/** A /proc directory showing the namespace, then the reader inside it, where there are those. */
function requestTablePlaces(procDir: string | undefined, inside: ProcNetReader | undefined): RequestTablePlace[] | undefined {
  const places = [procDir, inside].filter((p): p is RequestTablePlace => p !== undefined);
  return places.length > 0 ? places : undefined;
}

/** A dump of both families in one walk (parse-sock-diag.ts tcpDiagRequest). */
const BOTH_FAMILIES = 'both';

// A dump refused with these means the kernel has no TCP diag module (tcp_diag), not a failed poll.
const UNAVAILABLE_DUMP_ERRNOS: ReadonlySet<string> = new Set(['ENOENT', 'EPROTONOSUPPORT', 'EOPNOTSUPP']);

/**
 * Errnos with which the kernel refuses the one-walk request itself (TCPDIAG_GETSOCK): no handler
 * for it (sock_diag_rcv_msg's EOPNOTSUPP without inet_diag's compat entry; ENOENT without
 * tcp_diag), a request it does not take (EINVAL), or a family it does not know. The dumps per
 * family are then used from then on. Any other errno (ENOBUFS, EINTR, EAGAIN, EBUSY, ENOMEM: a
 * moment's shortage, not the request) is this poll's alone: the dumps per family read this poll,
 * and the next asks for the one walk again.
 */
const ONE_WALK_REFUSED_ERRNOS: ReadonlySet<string> = new Set(['EOPNOTSUPP', 'EINVAL', 'ENOENT', 'EPROTONOSUPPORT', 'EAFNOSUPPORT']);

export interface NetlinkSourceOptions {
  /** Opens the kernel channel; injected by tests (a refused or missing library). */
  openChannel?: (littleEndian: boolean) => SockDiagChannel;
  /** idiag_states mask (parse-sock-diag.ts kernelStatesMask); every state by default. A poll's ReadRequest.states wins. */
  states?: number;
  /** Ask for tcp_info (activity, RTO, backoff); true by default. */
  withTcpInfo?: boolean;
}

/**
 * Where one read happens. `procRoot`: this host's /proc (uptime). `enter`: another network namespace,
 * where sock-diag-dump.ts's namespace worker opens the dump's socket; then `netProcDir` is a /proc directory
 * showing that namespace (`<proc>/<pid>`, for SYN_RECEIVED timeout counts), undefined when no
 * process is in it. Without `enter`, this process's own namespace and /proc.
 */
export interface NetlinkPlace {
  procRoot: string;
  enter?: NetnsTarget;
  netProcDir?: string | undefined;
}

/**
 * `--source netlink`: the kernel's socket tables through NETLINK_SOCK_DIAG, both families in one
 * dump (TCPDIAG_GETSOCK; one SOCK_DIAG_BY_FAMILY dump per family where the kernel refuses it), with
 * tcp_info — the data ss -tanoie prints, without the text. With an
 * `enter` place (`--netns`), another namespace's: a namespace that is gone is a SourceError, one
 * that cannot be entered (no CAP_SYS_ADMIN) a SourceUnavailableError.
 */
export class NetlinkSource implements SocketSource {
  readonly name = 'netlink' as const;
  private channel: SockDiagChannel | undefined;
  private sequence = 0;
  /** The kernel refused the dump of both families in one walk (TCPDIAG_GETSOCK) for its kind (ONE_WALK_REFUSED_ERRNOS): one dump per family from then on. */
  private dumpPerFamily = false;
  /** Address texts, kept across dumps (bounded). */
  private readonly names = new AddressNames();
  /**
   * ReadRequest.reuseRows: each dump's rows by its request (states mask and family), handed to the
   * next dump of the same request to update in place (a census's, a fast poll's). Cleared when a
   * read does not ask for reuse, so no rows are kept that nobody will reuse.
   */
  private readonly previousRows = new Map<string, SocketRow[]>();

  constructor(private readonly options: NetlinkSourceOptions = {}) {}

  async read(platform: Platform, place: NetlinkPlace, request: ReadRequest = {}): Promise<SourceReading> {
    const { procRoot, enter } = place;
    if (platform.os !== 'linux') throw new SourceUnavailableError('netlink: sock_diag is Linux only');
    if (!this.options.openChannel && !platform.kernelSockets) throw new SourceUnavailableError('netlink: this platform opens no kernel socket');
    this.channel ??= (this.options.openChannel ?? ((littleEndian) => openSockDiagChannel({ littleEndian })))(platform.littleEndian);
    const uptimeMs = await readUptimeMs(platform, procRoot);
    let rows: SocketRow[] = [];
    const problems: ParseProblem[] = [];
    const notices: string[] = [];
    let interrupted = false;
    // A poll that asks for some states (tiered polling) has the kernel filter them: it skips the
    // others while it walks its hash tables, and fills no message for them.
    const states = request.states ? kernelStatesMask(request.states) : (this.options.states ?? ALL_TCP_STATES_MASK);
    // Rows read in another namespace are copied with its label (netns-provider.ts): never reused.
    const reuse = request.reuseRows === true && !enter;
    if (!reuse) this.previousRows.clear();
    // A one-shot reading of this namespace (ReadRequest.screen): sockets the screen passes are counted, not made rows.
    const screened = request.screen && !reuse && !enter ? new ScreenedDump(request.screen) : undefined;
    let leftOutCount = 0;
    // One walk of the kernel's tables for both families (TCPDIAG_GETSOCK), unless this kernel refused
    // it: then one SOCK_DIAG_BY_FAMILY dump per family, from then on.
    const dumps: (typeof BOTH_FAMILIES | typeof AF_INET | typeof AF_INET6)[] = this.dumpPerFamily ? [AF_INET, AF_INET6] : [BOTH_FAMILIES];
    for (let next = 0; next < dumps.length; next++) {
      const family = dumps[next]!;
      const asked = { states, withTcpInfo: this.options.withTcpInfo ?? true, sequence: ++this.sequence, littleEndian: platform.littleEndian };
      const request = family === BOTH_FAMILIES ? tcpDiagRequest(asked) : sockDiagRequest({ family, ...asked });
      // A parser per dump: it stops reading at NLMSG_DONE.
      const reuseKey = `${states} ${family}`;
      const previous = reuse ? this.previousRows.get(reuseKey) : undefined;
      const familyParser = new SockDiagParser({ littleEndian: platform.littleEndian, uptimeMs, names: this.names, ...(previous ? { previous } : {}), ...(screened ? { screening: screened } : {}) });
      screened?.startDump();
      await this.dump(enter ? { request, netns: enter } : { request }, familyParser);
      const result = familyParser.finish();
      if (reuse && result.done && result.errno === undefined) this.previousRows.set(reuseKey, result.rows);
      if (result.errno !== undefined) {
        if (family === BOTH_FAMILIES) {
          // A kernel without the first inet_diag interface (EOPNOTSUPP), or refusing it: the dumps
          // per family say whether TCP can be dumped at all (a missing tcp_diag: ENOENT). Only a
          // refusal of the request kind is for good (ONE_WALK_REFUSED_ERRNOS).
          if (ONE_WALK_REFUSED_ERRNOS.has(errnoName(result.errno))) this.dumpPerFamily = true;
          dumps.push(AF_INET, AF_INET6);
          continue;
        }
        const name = errnoName(result.errno);
        // Without IPv6 the kernel has no AF_INET6 handler for the dump.
        if (family === AF_INET6 && name === 'ENOENT' && rows.length + leftOutCount > 0) {
          notices.push('netlink: no AF_INET6 table (IPv6 is off): IPv4 only');
          continue;
        }
        if (UNAVAILABLE_DUMP_ERRNOS.has(name)) throw new SourceUnavailableError(`netlink: the kernel refuses the TCP dump (${name}; is tcp_diag loaded?)`);
        throw new SourceError(`netlink: the kernel ended the dump with ${name}`);
      }
      if (!result.done) throw new SourceError('netlink: the dump ended without NLMSG_DONE');
      interrupted ||= result.interrupted;
      leftOutCount = screened?.leftOutCount ?? 0;
      for (const row of result.rows) rows.push(row);
      for (const problem of result.problems) problems.push(problem);
    }
    // The rows a screened reading still needs (each state's possible first), or every row after a repeated flow.
    const finished = screened?.finish(rows, { littleEndian: platform.littleEndian, uptimeMs, names: this.names });
    if (finished) rows = finished.rows;
    // SYN_RECEIVED rows take procfs's timeout count, as with ss (request-sockets.ts), from a /proc
    // showing the namespace read (never left out by a screen).
    const ages: Pick<SourceReading, 'notices' | 'dwellUnknown'> = { notices: [] };
    await addRequestSocketAges(platform, enter ? requestTablePlaces(place.netProcDir, this.readerInside(enter)) : '/proc', rows, ages);
    for (const notice of summarizeProblems('netlink', problems)) notices.push(notice.replace('malformed line', 'unreadable message'));
    // Not an atomic snapshot: the kernel resumes the walk by hash bucket between datagrams.
    if (interrupted) notices.push('netlink: the socket table changed during the dump (NLM_F_DUMP_INTR): a socket may be missing or repeated');
    const reading: SourceReading = { source: 'netlink', rows, completeProtocols: ['tcp', 'tcp6'], notices: [...notices, ...ages.notices], emptyTableProven: problems.length === 0 };
    if (ages.dwellUnknown) reading.dwellUnknown = ages.dwellUnknown;
    if (request.states) reading.states = [...request.states];
    if (finished?.leftOut) reading.leftOut = finished.leftOut;
    return reading;
  }

  /**
   * The namespace's /proc/net/tcp* read by the worker thread that enters it for the dump
   * (/proc/thread-self/net: a namespace no process is in has no /proc/<pid> showing it), its
   * SYN_RECEIVED rows only; undefined where the channel cannot (an injected one).
   */
  private readerInside(enter: NetnsTarget): ProcNetReader | undefined {
    const channel = this.channel;
    if (!channel?.readInNetns) return undefined;
    return {
      where: `/proc/thread-self (a thread in ${enter.path})`,
      async readTable(file, onLine) {
        const [read] = await channel.readInNetns!(enter, [file], PROC_SYN_RECV_STATE);
        if (!read || 'code' in read) throw Object.assign(new Error(read?.code ?? 'no answer'), { code: read?.code });
        for (const line of read.text.split('\n')) onLine(line);
      },
    };
  }

  /** One dump; a namespace that cannot be entered makes the source unavailable (auto falls back), one that is gone fails this read. */
  private async dump(request: { request: Uint8Array; netns?: NetnsTarget }, parser: SockDiagParser): Promise<void> {
    try {
      await this.channel!.dump(request, (bytes) => parser.datagram(bytes));
    } catch (error) {
      if (error instanceof NetnsEntryError && !error.gone && (error.errno === 'EPERM' || error.errno === 'EACCES')) throw new SourceUnavailableError(error.message, { cause: error });
      // A worker that could not return to its own namespace has refused everything since: the next read opens a new one.
      if (error instanceof SockDiagStepError && error.step === 'netns' && !(error instanceof NetnsEntryError)) this.close();
      throw error;
    }
  }

  close(): void {
    this.channel?.close();
    this.channel = undefined;
  }
}
