import { formatEndpoint, type Endpoint } from './address.js';
import { flowText, netnsId, ownerLabel, type SocketRow } from './connection.js';
import { formatDuration } from './duration.js';
import type { ConnectionView } from './evaluate.js';
import { STATE_GUIDE } from './state-guide.js';
import { TcpState } from './tcp-state.js';
import { maxOf } from './lists.js';
import { plural } from './plural.js';

// Plain-language findings: why a session is stuck, the evidence, and what to do next
// (docs/tcp-facts.md#states and #handshake-close-and-retransmission). Pure: views and host facts in, findings out.

export interface Finding {
  /** Stable identifier of the kind of finding, for scripts. */
  code: string;
  /** What the finding is about: a connection, a peer, a process, a listener. */
  subject: string;
  summary: string;
  evidence: string[];
  nextStep: string;
  /** Keys of the connections it covers. */
  connections: string[];
}

/** Facts about the host the kernel exposes under /proc/sys. */
export interface HostFacts {
  ephemeralPorts?: { low: number; high: number };
  /** net.ipv4.tcp_fin_timeout: how long an orphaned FIN_WAIT_2 lives. */
  finTimeoutMs?: number;
}

/** A connection seen entering its state less than this ago counts as recent (a leak that is still growing). */
export const RECENT_MS = 10 * 60_000;

/**
 * What the polls prove about a group's growth. A socket counts as new only where it was seen
 * entering the state (a change between two polls, or absent from an earlier poll); one first seen
 * already in it proves nothing about when it came, and one seen entering it counts as recent only
 * where the poll before it lies within the last RECENT_MS (it came after that poll). One poll
 * alone cannot tell growth; polls that saw no newcomer prove the group is not growing.
 */
export function growthOf(views: readonly ConnectionView[]): string {
  let entered = 0;
  let recent = 0;
  let watchedMs = 0;
  let singleSightings = 0;
  for (const { connection: c } of views) {
    watchedMs = Math.max(watchedMs, c.lastSeenMs - c.firstSeenMs);
    if (c.dwellSource === 'observed') {
      entered++;
      if (c.enteredAfterMs !== undefined) {
        watchedMs = Math.max(watchedMs, c.lastSeenMs - c.enteredAfterMs);
        if (c.lastSeenMs - c.enteredAfterMs <= RECENT_MS) recent++;
      }
    } else if (c.firstSeenMs === c.lastSeenMs) singleSightings++;
  }
  if (recent > 0) return `${recent} of them seen entering it in the last ${formatDuration(RECENT_MS)}: new ones keep arriving`;
  if (entered > 0) return `${entered} of them seen entering it over ${formatDuration(watchedMs)} of polling, none provably in the last ${formatDuration(RECENT_MS)}`;
  if (singleSightings === views.length) return 'growth unknown: one reading so far (poll again, or use --window)';
  return `none seen entering it over ${formatDuration(watchedMs)} of polling: not growing now`;
}

/** Linux TCP_RTO_MIN. */
const MIN_RTO_MS = 200;

/** Everything findings compare a connection with, computed once per evaluation. */
export class DiagnosisIndex {
  readonly byOwnerInState = new Map<string, ConnectionView[]>();
  /**
   * Every connection to a peer that a group finding may be about (two or more SYN_SENT to it; with
   * the ephemeral port range known, TIME_WAIT to it filling half of it), by peer endpoint, peers in
   * the order the views first name them. Other peers are not indexed: at 100,000 connections a
   * key and a list for each peer was the bulk of a diagnosis (issue 15).
   */
  readonly byRemote = new Map<string, ConnectionView[]>();
  readonly listeners = new Map<string, ConnectionView>();
  /** Every LISTEN by namespace and endpoint (localFlowKey): the listener a connection's own local endpoint belongs to. */
  private readonly localListeners = new Map<string, ConnectionView>();
  /**
   * Server sides waiting in a listener's accept queue (unacceptedListener), by their flow
   * (localFlowKey of local and remote): a client on this host finds its peer's by the reverse flow.
   */
  private readonly unaccepted = new Map<string, ConnectionView>();
  /** growthOf each group, once: every flagged CLOSE_WAIT of a process cites its group's (1,600 of them walked 1,600 times each at 40,000 sockets). */
  private readonly growths = new Map<readonly ConnectionView[], string>();

  constructor(
    readonly views: readonly ConnectionView[],
    readonly facts: HostFacts = {},
  ) {
    const peers = groupPeers(views, facts);
    for (const view of views) {
      const { row } = view;
      const owner = ownerLabel(row);
      if (owner) push(this.byOwnerInState, `${owner} ${row.state}`, view);
      if (peers.get(row.remote.address)?.has(row.remote.port)) push(this.byRemote, formatEndpoint(row.remote), view);
      if (row.state === TcpState.LISTEN) {
        this.listeners.set(formatEndpoint(row.local), view);
        this.localListeners.set(localFlowKey(row, row.local), view);
      }
    }
    for (const view of views) {
      if (isUnacceptedCandidate(view.row) && this.unacceptedListener(view.row)) this.unaccepted.set(localFlowKey(view.row, view.row.local, view.row.remote), view);
    }
  }

  /**
   * The listener in whose accept queue this connection waits, or undefined where the data does not
   * prove it waits in one: an ESTABLISHED socket no process holds (inode 0, no owner: the kernel
   * gives it a file only at accept(), docs/tcp-facts.md#procnettcp-and-tcp6) whose local endpoint
   * is a listener's on this host, in the same namespace. tcp_info cannot tell it from an accepted,
   * silent one (measured: the same counters, lastsnd = lastrcv = its age): only the inode can, so a
   * source without inodes (netstat, Windows, macOS) gets nothing from this.
   */
  unacceptedListener(row: SocketRow): ConnectionView | undefined {
    if (!isUnacceptedCandidate(row)) return undefined;
    const any = row.local.address.includes(':') ? '::' : '0.0.0.0';
    return (
      this.localListeners.get(localFlowKey(row, row.local)) ??
      this.localListeners.get(localFlowKey(row, { address: any, port: row.local.port })) ??
      this.localListeners.get(localFlowKey(row, { address: '::', port: row.local.port }))
    );
  }

  /** The server side of this connection where it waits in an accept queue on this host (same namespace): the reverse flow's. */
  unacceptedPeerOf(row: SocketRow): ConnectionView | undefined {
    return this.unaccepted.size === 0 ? undefined : this.unaccepted.get(localFlowKey(row, row.remote, row.local));
  }

  /** growthOf(views), computed once per group of this index. */
  growthOf(views: readonly ConnectionView[]): string {
    let growth = this.growths.get(views);
    if (growth === undefined) this.growths.set(views, (growth = growthOf(views)));
    return growth;
  }

  /** The listener on this host that accepts connections to `endpoint`, if any. */
  listenerFor(endpoint: Endpoint): ConnectionView | undefined {
    const any = endpoint.address.includes(':') ? '::' : '0.0.0.0';
    return (
      this.listeners.get(formatEndpoint(endpoint)) ??
      this.listeners.get(formatEndpoint({ address: any, port: endpoint.port })) ??
      this.listeners.get(formatEndpoint({ address: '::', port: endpoint.port }))
    );
  }
}

/** An ESTABLISHED socket the source proves no process holds (inode 0, where it gives inodes) and with no owner. */
function isUnacceptedCandidate(row: SocketRow): boolean {
  return row.state === TcpState.ESTABLISHED && row.inode === 0 && row.pid === undefined;
}

/** Namespace and endpoints as one key (endpoints without the protocol: an IPv4-mapped tcp6 side meets its tcp peer). */
function localFlowKey(row: Pick<SocketRow, 'netns'>, local: Endpoint, remote?: Endpoint): string {
  const where = row.netns ? netnsId(row.netns) : '';
  return remote ? `${where} ${formatEndpoint(local)} ${formatEndpoint(remote)}` : `${where} ${formatEndpoint(local)}`;
}

/** SYN_SENT connections to one peer from which diagnoseGroups reports the peer (groupPeers indexes no fewer). */
const SYN_SENT_GROUP_LEAST = 2;

/** TIME_WAIT to one peer from which diagnoseGroups reports the ephemeral ports running out: half the range. */
function timeWaitGroupLeast(ports: { low: number; high: number }): number {
  return (ports.high - ports.low + 1) / 2;
}

/**
 * The peers (address → ports) a group finding may be about: two or more SYN_SENT to it, or, with
 * the ephemeral port range known, TIME_WAIT to it at least half the range (diagnoseGroups' tests).
 * Counted by address and port, without making an endpoint's text for each connection.
 */
function groupPeers(views: readonly ConnectionView[], facts: HostFacts): Map<string, Set<number>> {
  const count = new GroupPeerCount();
  for (const { row } of views) count.add(row.state, row.remote.address, row.remote.port);
  return count.peers(facts);
}

/**
 * groupPeers' counts, one connection at a time (its state and remote endpoint), for a caller that
 * has no views: the first-sight screen counts the connections it leaves without a row here, so it
 * knows the peers readByDiagnosis will read (sources/linux/screened-dump.ts).
 */
export class GroupPeerCount {
  private readonly synSent = new Map<string, Map<number, number>>();
  private readonly timeWait = new Map<string, Map<number, number>>();

  /** One connection; only SYN_SENT and TIME_WAIT count. */
  add(state: TcpState, remoteAddress: string, remotePort: number): void {
    const map = state === TcpState.SYN_SENT ? this.synSent : state === TcpState.TIME_WAIT ? this.timeWait : undefined;
    if (!map) return;
    let ports = map.get(remoteAddress);
    if (!ports) map.set(remoteAddress, (ports = new Map()));
    ports.set(remotePort, (ports.get(remotePort) ?? 0) + 1);
  }

  /** The peers a group finding may be about, with these host facts (TIME_WAIT only with the ephemeral range known). */
  peers(facts: HostFacts): Map<string, Set<number>> {
    const peers = new Map<string, Set<number>>();
    const keep = (map: Map<string, Map<number, number>>, least: number) => {
      for (const [address, ports] of map) {
        for (const [port, n] of ports) {
          if (n < least) continue;
          let kept = peers.get(address);
          if (!kept) peers.set(address, (kept = new Set()));
          kept.add(port);
        }
      }
    };
    keep(this.synSent, SYN_SENT_GROUP_LEAST);
    if (facts.ephemeralPorts) keep(this.timeWait, timeWaitGroupLeast(facts.ephemeralPorts));
    return peers;
  }
}

/**
 * Which views the findings about groups and neighbours read (DiagnosisIndex, diagnoseGroups): those
 * with an owner, every LISTEN and SYN_RECEIVED, every ESTABLISHED that no process holds (inode 0: a
 * client on this host reads its server side's, DiagnosisIndex.unacceptedPeerOf), and every
 * connection to a peer a group finding may be about (groupPeers: its SYN_SENT and TIME_WAIT among
 * them, so these views find the same peers).
 * diagnoseAll gives the same findings for these views plus the flagged ones as for the whole table
 * when they come in the same relative order: no other view is indexed or read. So a caller may rank
 * (sortViews) only these instead of a whole table (check, core/evaluate rankFlaggedFirst).
 */
export function readByDiagnosis(views: readonly ConnectionView[], facts: HostFacts = {}): (view: ConnectionView) => boolean {
  const peers = groupPeers(views, facts);
  return ({ row }) =>
    row.pid !== undefined || row.state === TcpState.LISTEN || row.state === TcpState.SYN_RECEIVED || isUnacceptedCandidate(row) || peers.get(row.remote.address)?.has(row.remote.port) === true;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The finding for one connection, from its state, timers, kernel counters and its neighbours. */
export function diagnoseConnection(view: ConnectionView, index: DiagnosisIndex): Finding {
  const { row, timing } = view;
  const guide = STATE_GUIDE[row.state];
  const dwell = `${row.state} for ${view.connection.dwellSource === 'observed' ? '' : 'at least '}${formatDuration(timing.dwellMs)} (${view.connection.dwellSource})`;
  const finding: Finding = {
    code: `state-${row.state.toLowerCase().replace(/_/g, '-')}`,
    subject: flowText(row),
    summary: guide.stuckMeans,
    evidence: [dwell],
    nextStep: `Here: ${guide.checkHere}. On the peer: ${guide.checkPeer}.`,
    connections: [view.connection.key],
  };
  const owner = ownerLabel(row);
  if (owner) finding.evidence.push(`owned by ${owner}`);

  switch (row.state) {
    case TcpState.SYN_SENT:
      diagnoseSynSent(finding, view, index);
      break;
    case TcpState.SYN_RECEIVED:
      finding.code = 'handshake-incomplete';
      finding.summary = 'SYN/ACK sent, the final ACK never came: lost ACK, SYN flood or spoofed sources, or a listener deferring accept';
      if (row.retransmits) finding.evidence.push(`${plural(row.retransmits, 'SYN/ACK timeout')} so far`);
      break;
    case TcpState.CLOSE_WAIT:
      diagnoseCloseWait(finding, view, index);
      break;
    case TcpState.FIN_WAIT_2:
      finding.code = 'peer-not-closing';
      finding.summary = 'our FIN was acknowledged; the peer application has not closed its side';
      // Inode 0 proves no process holds it; a source that gives no inode (netstat, ss without -e) proves nothing.
      if (row.inode === 0 && index.facts.finTimeoutMs !== undefined) {
        finding.evidence.push(`no process holds it: the kernel drops this orphan after tcp_fin_timeout (${formatDuration(index.facts.finTimeoutMs)})`);
      }
      break;
    case TcpState.FIN_WAIT_1:
    case TcpState.CLOSING:
    case TcpState.LAST_ACK:
      finding.code = 'fin-unacknowledged';
      finding.summary = 'our FIN is not acknowledged: the peer is gone or unreachable';
      break;
    case TcpState.ESTABLISHED:
      if (!diagnoseUnaccepted(finding, view, index)) diagnoseIdle(finding, view);
      break;
  }
  if (row.state === TcpState.CLOSE_WAIT || row.state === TcpState.FIN_WAIT_2) {
    if (timing.halfCloseTimerMs < timing.dwellMs) finding.evidence.push(`last segment from the peer ${formatDuration(timing.halfCloseTimerMs)} ago (the half-close timer restarts on each)`);
  }
  const path = pathQuality(row);
  if (path) finding.evidence.push(path);
  return finding;
}

function diagnoseSynSent(finding: Finding, view: ConnectionView, index: DiagnosisIndex): void {
  const { row } = view;
  finding.code = 'syn-unanswered';
  finding.summary = 'SYN or SYN/ACK lost or filtered; the peer may be down';
  if (row.retransmits !== undefined) {
    finding.evidence.push(`${plural(row.retransmits, 'SYN retransmission')}${row.rtoMs ? `, RTO now ${formatDuration(row.rtoMs)}` : ''}`);
  }
  const listener = index.listenerFor(row.remote);
  if (listener) {
    // Only where the source gives the backlog (ss): procfs and netstat print 0 as a listener's Send-Q.
    const queues = acceptQueues(listener.row);
    const full = queues.full[0];
    const where = formatEndpoint(listener.row.local);
    if (queues.members.length === 1) {
      const { receiveQueue, acceptBacklog } = listener.row;
      const noBacklog = acceptBacklog === undefined ? ' (its backlog not given by this source)' : '';
      finding.evidence.push(
        `the peer is a listener on this host, accept queue ${receiveQueue ?? 'unknown'}${acceptBacklog !== undefined ? `/${acceptBacklog}` : ''}${full ? ': full, so it drops new SYNs' : noBacklog}`,
      );
    } else finding.evidence.push(`the peer is ${queues.text}${full ? ': a full one drops the new SYNs the kernel gives it' : ''}`);
    if (!full) {
      // The listener is up, so "the peer may be down" is not the reading; whether its queue drops the SYNs is, where the source gives its backlog.
      finding.summary =
        queues.unknown.length > 0
          ? `the peer is ${queues.members.length === 1 ? `the listener ${where}` : `one of the ${queues.members.length} listeners on ${where} (SO_REUSEPORT)`} on this host, ${waitingText(queues.unknown)}; this source gives no backlog, so whether ${queues.unknown.length === 1 ? 'the queue is full and drops' : 'those queues are full and drop'} SYNs is unknown`
          : `the ${queues.members.length === 1 ? `listener ${where}` : `${queues.members.length} listeners on ${where} (SO_REUSEPORT)`} on this host ${queues.members.length === 1 ? 'does' : 'do'} not answer: a firewall rule on this host, or SYNs dropped`;
      if (queues.unknown.length > 0) finding.nextStep = unknownQueueStep(where);
    }
    if (full) {
      finding.summary =
        queues.members.length === 1
          ? `the listener ${where} has a full accept queue and drops SYNs`
          : `${queues.full.length} of the ${queues.members.length} listeners on ${where} (SO_REUSEPORT) ${queues.full.length === 1 ? 'has a full accept queue and drops the SYNs given to it' : 'have a full accept queue and drop the SYNs given to them'}`;
      finding.nextStep = `The application owning ${where}${ownerLabel(full) ? ` (${ownerLabel(full)})` : ''} does not accept() fast enough, or its backlog is too small.`;
    }
  }
}

/** `1 waiting in its accept queue`, or for several listeners `accept queues hold 1 (py[12]), 3`: what a source without backlogs showed. */
function waitingText(unknown: readonly SocketRow[]): string {
  const length = (m: SocketRow) => (m.receiveQueue === undefined ? 'an unknown number' : String(m.receiveQueue));
  if (unknown.length === 1) return `${length(unknown[0]!)} waiting in its accept queue`;
  return `accept queues holding ${unknown.map((m) => `${length(m)}${ownerLabel(m) ? ` (${ownerLabel(m)})` : ''}`).join(', ')}`;
}

function unknownQueueStep(where: string): string {
  return `Read the backlog of ${where} where the kernel gives it (\`ss -tln\`: Send-Q is the backlog of a listener, Recv-Q its queue): a queue above its backlog drops SYNs; \`nstat -az TcpExtListenOverflows TcpExtListenDrops\` counts them. If it is not full, check this host's firewall rules.`;
}

/**
 * Every listener a LISTEN row stands for (itself and SocketRow.sharingPort: an SO_REUSEPORT group;
 * the kernel gives each SYN to one of them, by 4-tuple hash), those whose accept queue is full
 * (only where the source gives the backlog: ss, netlink), and the evidence text for a group.
 */
function acceptQueues(listener: SocketRow): { members: SocketRow[]; full: SocketRow[]; unknown: SocketRow[]; text: string } {
  const members = [listener, ...(listener.sharingPort ?? [])];
  const full = members.filter((m) => m.acceptBacklog !== undefined && (m.receiveQueue ?? 0) > m.acceptBacklog);
  // A queue the source gives no backlog for (/proc/net/tcp: its tx_queue is write_seq - snd_una,
  // 0 for a listener, get_tcp4_sock; netstat prints that) may be full unless it is empty: the
  // kernel drops a SYN when the queue holds more than the backlog (sk_acceptq_is_full), and a
  // backlog of 0 is full at one. An unknown queue length (undefined) may be anything.
  const unknown = members.filter((m) => m.acceptBacklog === undefined && m.receiveQueue !== 0);
  const each = members.map((m) => {
    const owner = ownerLabel(m);
    return `${m.receiveQueue ?? 0}${m.acceptBacklog !== undefined ? `/${m.acceptBacklog}` : ''}${owner ? ` (${owner})` : m.inode ? ` (inode ${m.inode})` : ''}`;
  });
  return { members, full, unknown, text: `${members.length} listeners on this host sharing the port (SO_REUSEPORT), accept queues ${each.join(', ')}` };
}

/**
 * An ESTABLISHED connection waiting in a listener's accept queue on this host: its server side
 * (DiagnosisIndex.unacceptedListener), or its client side where the server side is in the same
 * table (unacceptedPeerOf). Neither is idle for a middlebox to drop: the server application has not
 * called accept(), so keepalive advice would mislead. False (finding untouched) for anything else.
 */
function diagnoseUnaccepted(finding: Finding, view: ConnectionView, index: DiagnosisIndex): boolean {
  const { row } = view;
  const listener = index.unacceptedListener(row);
  const server = listener ? view : index.unacceptedPeerOf(row);
  const holder = listener ?? (server && index.unacceptedListener(server.row));
  if (!server || !holder) return false;
  const where = formatEndpoint(holder.row.local);
  const queues = acceptQueues(holder.row);
  const owners = [...new Set(queues.members.map((m) => ownerLabel(m)).filter((o) => o !== undefined))];
  // Named only where every listener of the group has the same known owner: the kernel does not say which one holds it.
  const owner = owners.length === 1 && queues.members.every((m) => m.pid !== undefined) ? owners[0] : undefined;
  const whose = `${where}${owner ? ` (${owner})` : ''}`;
  const queueText =
    queues.members.length === 1
      ? `the listener ${whose} has ${plural(holder.row.receiveQueue ?? 0, 'connection')} in its accept queue${holder.row.acceptBacklog !== undefined ? ` (backlog ${holder.row.acceptBacklog})` : ''}${queues.full.length ? ': full' : ''}`
      : `it waits in the queue of one of ${queues.text}`;
  const unread = server.row.receiveQueue ?? 0;
  if (listener) {
    finding.code = 'not-accepted';
    finding.summary = `waiting in the accept queue of ${whose}: the kernel completed the handshake, the application has not accepted it`;
    finding.evidence.push(`no process holds it (inode 0) and its local endpoint is the listener's: the kernel gives it a file only at accept()`, queueText);
    if (unread > 0) finding.evidence.push(`${plural(unread, 'byte')} from the peer wait in it unread (Recv-Q): the application can read them only after accept()`);
  } else {
    finding.code = 'peer-not-accepted';
    finding.summary = `its server side on this host waits in the accept queue of ${whose}: the server application has not accepted it, so it has read nothing sent on it`;
    finding.evidence.push(`the server side ${flowText(server.row)} is held by no process (inode 0)`, queueText);
    if (unread > 0) finding.evidence.push(`${plural(unread, 'byte')} sent on it wait unread on the server side (its Recv-Q)`);
  }
  finding.nextStep = `The application owning ${whose} has not called accept() for it: it is overloaded, blocked (a deadlock, a slow call in its accept loop), or not accepting at all. Look at what its threads are doing; keepalive will not help. \`nstat -az TcpExtListenOverflows\` counts connections dropped once the queue is full.`;
  return true;
}

function diagnoseCloseWait(finding: Finding, view: ConnectionView, index: DiagnosisIndex): void {
  const { row } = view;
  finding.code = 'socket-leak';
  finding.summary = 'the local process has not closed the socket after the peer did';
  const owner = ownerLabel(row);
  if (!owner) return;
  const held = index.byOwnerInState.get(`${owner} ${TcpState.CLOSE_WAIT}`) ?? [];
  finding.evidence.push(`${owner} holds ${plural(held.length, 'CLOSE_WAIT socket')}; ${index.growthOf(held)}`);
  finding.nextStep = `In ${owner}: find where it reads end-of-file (read returns 0) and never calls close(). Restarting it frees the sockets; \`tcpdwell reset --state CLOSE_WAIT --pid ${row.pid}\` ends them now.`;
}

function diagnoseIdle(finding: Finding, view: ConnectionView): void {
  const { row, timing } = view;
  finding.code = 'idle';
  if (timing.idleMs === undefined) {
    finding.summary = 'established; this source reports no activity, so idleness is unknown';
    return;
  }
  finding.summary = `idle for ${formatDuration(timing.idleMs)}: no data either way`;
  // Data waiting on either side is not an idle session but a stalled one (tcp_info counts data
  // sent and received, not data queued): say which side holds it up.
  if ((row.sendQueue ?? 0) > 0 && row.timer?.name === 'persist') {
    finding.code = 'stalled-zero-window';
    finding.summary = `no data moved for ${formatDuration(timing.idleMs)}, but ${row.sendQueue} bytes wait to be sent: the peer advertises a zero window (persist timer), so its application is not reading`;
  } else if ((row.receiveQueue ?? 0) > 0) {
    finding.code = 'stalled-unread';
    finding.summary = `no data moved for ${formatDuration(timing.idleMs)}, but ${row.receiveQueue} bytes have arrived and wait unread: the local application is not reading`;
  }
  const sent = row.activity?.lastSendAgoMs;
  const received = row.activity?.lastReceiveAgoMs;
  if (sent !== undefined && received !== undefined) {
    const lastSpoke = sent < received ? 'this side' : sent > received ? 'the peer' : 'both sides at once';
    finding.evidence.push(`last data sent ${formatDuration(sent)} ago, received ${formatDuration(received)} ago: ${lastSpoke} spoke last`);
  }
  // The kernel reports one timer per socket (retransmit and persist before keepalive, inet_diag's
  // icsk_pending order): "off" is proven only where no timer runs at all.
  finding.evidence.push(
    row.timer?.name === 'keepalive'
      ? `keepalive on, next probe in ${formatDuration(row.timer.remainingMs)}`
      : row.timer === undefined || row.timer.name === 'off'
        ? 'keepalive off (no keepalive timer on the socket)'
        : `keepalive unknown: the kernel shows one timer per socket, and the ${row.timer.name} timer runs`,
  );
  finding.nextStep =
    'Firewalls and NAT devices drop idle sessions silently after their idle timer (1 h by default on Cisco IOS and ASA): enable TCP keepalive below that (SO_KEEPALIVE, tcp_keepalive_time), or close idle connections in the application.';
}

/**
 * Retransmissions read against SRTT and RTO (docs/tcp-facts.md#handshake-close-and-retransmission: RTO = SRTT + 4·RTTVAR). An RTO far
 * above that means it backed off retransmitting into silence; retransmissions with an RTO still
 * near it mean ACKs keep arriving: a lossy path, not a dead peer.
 */
export function pathQuality(row: SocketRow): string | undefined {
  if (row.rttMs === undefined || row.rtoMs === undefined) return undefined;
  const expectedRto = Math.max(MIN_RTO_MS, row.rttMs + 4 * (row.rttVarMs ?? 0));
  const backingOff = row.timer?.name === 'on' && (row.retransmits ?? 0) > 0 && row.rtoMs >= 4 * expectedRto;
  if (backingOff) {
    return `retransmitting into silence: RTO ${formatDuration(row.rtoMs)} after ${plural(row.retransmits ?? 0, 'retransmission')}, against ${formatDuration(expectedRto)} from SRTT ${row.rttMs} ms: the peer or the path has gone silent`;
  }
  if ((row.totalRetransmits ?? 0) > 0) {
    return `lossy path: ${plural(row.totalRetransmits ?? 0, 'segment')} retransmitted, but RTO ${formatDuration(row.rtoMs)} stays near SRTT + 4·RTTVAR (${formatDuration(expectedRto)}), so ACKs still arrive`;
  }
  return undefined;
}

/** Findings about groups: a dead upstream, a leaking process, a listener under pressure, port exhaustion. */
export function diagnoseGroups(index: DiagnosisIndex): Finding[] {
  const findings: Finding[] = [];
  const keys = (views: readonly ConnectionView[]) => views.map((v) => v.connection.key);

  for (const [remote, views] of index.byRemote) {
    const halfOpen = views.filter((v) => v.row.state === TcpState.SYN_SENT);
    if (halfOpen.length < SYN_SENT_GROUP_LEAST) continue;
    const all = halfOpen.length === views.filter((v) => v.row.state !== TcpState.TIME_WAIT).length;
    const evidence = [`${plural(halfOpen.length, 'connection')} in SYN_SENT, the oldest for at least ${formatDuration(maxOf(halfOpen.map((v) => v.timing.dwellMs)))}`];
    let cause = 'upstream down or filtered';
    let nextStep = `Check ${remote} itself: is it up and listening, and does a firewall between drop SYNs? On it, SYN_RECEIVED means the SYN/ACK is blocked on the way back; only LISTEN means the SYN never arrives.`;
    // The upstream listens on this host: what its accept queue shows is the cause, not a dead host
    // (the per-connection finding says the same; the two must not contradict each other).
    const listener = index.listenerFor(halfOpen[0]!.row.remote);
    if (listener) {
      // Every listener of an SO_REUSEPORT group: the first listed may be a roomy one beside a full one.
      const queues = acceptQueues(listener.row);
      const many = queues.members.length;
      const full = queues.full[0];
      if (many === 1) {
        const { receiveQueue = 0, acceptBacklog } = listener.row;
        const owner = ownerLabel(listener.row);
        evidence.push(`the peer is a listener on this host${owner ? ` (${owner})` : ''}, accept queue ${receiveQueue}${acceptBacklog !== undefined ? `/${acceptBacklog}` : ''}`);
      } else evidence.push(`the peer is ${queues.text}`);
      if (full) {
        const owner = ownerLabel(full);
        cause =
          many === 1
            ? 'its listener on this host has a full accept queue and drops SYNs'
            : `${queues.full.length} of its ${many} listeners on this host (SO_REUSEPORT) ${queues.full.length === 1 ? 'has a full accept queue and drops the SYNs given to it' : 'have a full accept queue and drop the SYNs given to them'}`;
        nextStep = `The application owning ${formatEndpoint(listener.row.local)}${owner ? ` (${owner})` : ''} does not accept() fast enough, or its backlog is too small.`;
      } else if (queues.unknown.length > 0) {
        // procfs and netstat give no backlog: a queue holding connections may be full (break-it: Recv-Q 1 on a backlog-0 listener read as a firewall).
        const which = many === 1 ? 'its listener on this host holds' : `${queues.unknown.length} of its ${many} listeners on this host (SO_REUSEPORT) hold`;
        const waiting = queues.unknown.map((m) => (m.receiveQueue === undefined ? 'an unknown number' : String(m.receiveQueue))).join(', ');
        cause = `${which} ${waiting} in ${queues.unknown.length === 1 && many === 1 ? 'its' : 'their'} accept ${queues.unknown.length === 1 ? 'queue' : 'queues'}; this source gives no backlog, so whether ${queues.unknown.length === 1 ? 'it is full and drops' : 'they are full and drop'} SYNs is unknown`;
        nextStep = unknownQueueStep(formatEndpoint(listener.row.local));
      } else {
        cause =
          many === 1
            ? 'its listener on this host does not answer them (a firewall rule on this host, or SYNs dropped)'
            : `its ${many} listeners on this host (SO_REUSEPORT) do not answer them (a firewall rule on this host, or SYNs dropped)`;
        nextStep = `Check this host's firewall rules for ${remote} and \`nstat -az TcpExtListenOverflows TcpExtListenDrops\`.`;
      }
    }
    findings.push({
      code: 'upstream-unreachable',
      subject: remote,
      summary: `${all ? 'all' : `${halfOpen.length} of`} ${all ? halfOpen.length : views.length} connections to ${remote} are half-open: ${cause}`,
      evidence,
      nextStep,
      connections: keys(halfOpen),
    });
  }

  for (const [ownerAndState, views] of index.byOwnerInState) {
    if (!ownerAndState.endsWith(` ${TcpState.CLOSE_WAIT}`) || views.length < 2) continue;
    const owner = ownerAndState.slice(0, -` ${TcpState.CLOSE_WAIT}`.length);
    findings.push({
      code: 'socket-leak',
      subject: owner,
      summary: `${owner} holds ${plural(views.length, 'CLOSE_WAIT socket')}: a socket leak (it does not close connections its peers closed)`,
      evidence: [index.growthOf(views)],
      nextStep: `Find where ${owner} reads end-of-file without calling close(); restarting it frees the sockets.`,
      connections: keys(views),
    });
  }

  const synReceivedByListener = new Map<string, ConnectionView[]>();
  for (const view of index.views) if (view.row.state === TcpState.SYN_RECEIVED) push(synReceivedByListener, formatEndpoint(view.row.local), view);
  for (const [local, views] of synReceivedByListener) {
    const listener = index.listenerFor(views[0]!.row.local);
    const sources = new Set(views.map((v) => v.row.remote.address)).size;
    const evidence = [`from ${plural(sources, 'source address')}`];
    const queues = listener && acceptQueues(listener.row);
    if (queues && queues.members.length > 1) {
      if (queues.members.some((m) => m.acceptBacklog !== undefined))
        evidence.push(
          `accept queues ${queues.members.map((m) => `${m.receiveQueue ?? 0}${m.acceptBacklog !== undefined ? `/${m.acceptBacklog}` : ''}${queues.full.includes(m) ? ' (full)' : ''}`).join(', ')}`,
        );
    } else if (listener?.row.acceptBacklog !== undefined) evidence.push(`accept queue ${listener.row.receiveQueue ?? 0}/${listener.row.acceptBacklog}`);
    if (views.length < 2 && !(queues && queues.full.length > 0)) continue;
    findings.push({
      code: 'handshakes-piling-up',
      subject: local,
      summary: `${plural(views.length, 'handshake')} waiting for the final ACK on ${local}: ${sources > 10 ? 'many sources: a SYN flood or spoofed addresses' : 'final ACKs lost, or the listener defers accept'}`,
      evidence,
      nextStep: 'Check `nstat -az TcpExtListenOverflows TcpExtListenDrops TcpExtSyncookiesSent`; with a flood, SYN cookies (net.ipv4.tcp_syncookies) keep the listener answering.',
      connections: keys(views),
    });
  }

  const ports = index.facts.ephemeralPorts;
  if (ports) {
    const range = ports.high - ports.low + 1;
    for (const [remote, views] of index.byRemote) {
      const timeWait = views.filter((v) => v.row.state === TcpState.TIME_WAIT).length;
      if (timeWait < timeWaitGroupLeast(ports)) continue;
      findings.push({
        code: 'ephemeral-ports',
        subject: remote,
        summary: `${timeWait} TIME_WAIT to ${remote} hold ${Math.round((timeWait / range) * 100)}% of the ${range} ephemeral ports: new connections to it will fail when they run out`,
        evidence: [`net.ipv4.ip_local_port_range ${ports.low}-${ports.high}`],
        nextStep: 'Reuse connections (keep-alive, pooling), let the server close first, widen ip_local_port_range, or enable net.ipv4.tcp_tw_reuse for outgoing connections.',
        connections: keys(views.filter((v) => v.row.state === TcpState.TIME_WAIT)),
      });
    }
  }
  return findings;
}

/** Per-connection findings, by connection key, each made when asked for (diagnoseAll). */
export interface FindingsByKey {
  get(key: string): Finding | undefined;
}

export interface Diagnosis {
  /** Per-connection findings, by connection key. */
  byConnection: FindingsByKey;
  groups: Finding[];
}

/**
 * Findings for every group, and for the connections `pick` chooses (by default the flagged ones):
 * `byConnection.get(key)` makes a picked connection's finding when asked for (diagnoseConnection
 * over this table's index) and keeps none, undefined for a connection not picked. A report asks
 * once for each line it prints; with every idle ESTABLISHED flagged (86,000 at 100,000 sockets) a
 * finding each, all alive at once, was ~60 MB of `check`'s peak (issue 15). The findings depend
 * only on the views and facts given, so they are the same whenever asked, while the views are
 * unchanged (a pooled view changes at its pool's next evaluation: ask before it).
 */
export function diagnoseAll(views: readonly ConnectionView[], facts: HostFacts = {}, pick: (view: ConnectionView) => boolean = (v) => v.flag !== undefined): Diagnosis {
  const index = new DiagnosisIndex(views, facts);
  const picked = new Map<string, ConnectionView>();
  for (const view of views) if (pick(view)) picked.set(view.connection.key, view);
  const byConnection: FindingsByKey = {
    get: (key) => {
      const view = picked.get(key);
      return view && diagnoseConnection(view, index);
    },
  };
  return { byConnection, groups: diagnoseGroups(index) };
}
