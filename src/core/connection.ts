import { formatEndpoint, type Endpoint, type Protocol } from './address.js';
import type { TcpState } from './tcp-state.js';

/** A kernel timer on a socket (procfs `tr:tm->when`, ss `timer:(name,remaining,count)`). */
export interface SocketTimer {
  /** on = retransmit/probe, keepalive, timewait, persist, off. */
  name: 'on' | 'keepalive' | 'timewait' | 'persist' | 'off' | 'other';
  remainingMs: number;
}

/**
 * What the kernel's own counters say about recent activity, in milliseconds before the poll.
 * Only set where the source reports them and they are believable (see parse-ss.ts).
 */
export interface SocketActivity {
  /** Last data sent (tcp_info lastsnd). */
  lastSendAgoMs?: number;
  /** Last data received (tcp_info lastrcv). */
  lastReceiveAgoMs?: number;
  /** Last ACK-bearing segment received from the peer, FIN included (tcp_info lastack). */
  lastPeerSegmentAgoMs?: number;
  /**
   * Last packet of the flow either way, where states change only on packets (a firewall's
   * conntrack entry): the state is at least this old.
   */
  lastPacketAgoMs?: number;
}

/** One socket-table row from any source, already in the canonical model. */
export interface SocketRow {
  protocol: Protocol;
  local: Endpoint;
  remote: Endpoint;
  state: TcpState;
  rawState: string;
  /** Socket inode (Linux). 0 when no process owns the socket yet (request or unaccepted sockets). */
  inode?: number;
  uid?: number;
  sendQueue?: number;
  receiveQueue?: number;
  /**
   * A listener's accept queue limit (the listen() backlog as the kernel caps it), where the source
   * reports it (ss's Send-Q on a LISTEN row); its queue length is then `receiveQueue`.
   */
  acceptBacklog?: number;
  timer?: SocketTimer;
  /** Retransmissions of the current segment (procfs retrnsmt, ss timer count). */
  retransmits?: number;
  /** Exponential backoff steps so far (ss `backoff:`), absent means 0 or unknown. */
  backoff?: number;
  rtoMs?: number;
  /** Smoothed RTT and its mean deviation (tcp_info rtt:SRTT/RTTVAR). */
  rttMs?: number;
  rttVarMs?: number;
  /** Segments retransmitted over the connection's life (ss retrans:unacked/TOTAL). */
  totalRetransmits?: number;
  /** Segments sent and not yet acknowledged (tcp_info tcpi_unacked). */
  unacked?: number;
  /** Segments the sender counts as lost (tcp_info tcpi_lost). */
  lost?: number;
  bytesSent?: number;
  bytesReceived?: number;
  activity?: SocketActivity;
  pid?: number;
  process?: string;
  /**
   * The flow is offloaded: a netfilter flowtable forwards its packets (conntrack `[OFFLOAD]`), or
   * the NIC does (`[HW_OFFLOAD]`). Its packets bypass the conntrack entry, so the entry has no
   * timeout, no state word and no time since the last packet: absent means not offloaded.
   */
  offload?: 'software' | 'hardware';
  /** Age of the connection itself at the reading (Windows CreationTime). */
  createdAgoMs?: number;
  /**
   * Tells apart rows whose printed endpoints collide (macOS netstat cuts long addresses): the
   * kernel's socket id where the tool prints one, else the occurrence number. Part of the key.
   */
  instance?: string;
  /**
   * The kernel's socket cookie (sock_diag inet_diag_sockid.idiag_cookie, in hex as `ss -e` prints
   * it after `sk:`): the socket's identity, so a reused 4-tuple is a new socket. Netlink source only.
   */
  cookie?: string;
  /**
   * The interface index the socket is bound to (sock_diag inet_diag_sockid.idiag_if, the kernel's
   * sk_bound_dev_if: SO_BINDTODEVICE, or an IPv6 link-local scope); absent when unbound (0). The
   * kernel's exact lookup by 4-tuple (SOCK_DESTROY) needs it. Netlink source only.
   */
  boundInterface?: number;
  /**
   * The network namespace the row was read in, where more than the current one is read
   * (`--netns`). Part of the key: every namespace has its own 127.0.0.1.
   */
  netns?: NetnsLabel;
  /**
   * A SYN_RECEIVED whose age the source normally proves and could not this reading: its request
   * socket's timeout count (/proc/net/tcp*) was not read (sources/linux/request-sockets.ts). Its
   * first-sight dwell is then unknown, not 0: what is proven is at most the time since first seen.
   */
  ageUnknown?: true;
  /**
   * A LISTEN row that stands for listeners sharing its address and port (SO_REUSEPORT: nginx's
   * `reuseport`, envoy): the group's other listeners of the same reading, in the order listed.
   * Set by the tracker (advance), which keeps one row per 4-tuple; absent for a listener alone.
   * Counts count each of them (socketsOf), and the diagnosis reads each one's accept queue.
   */
  sharingPort?: SocketRow[];
}

/** How many sockets `row` stands for: 1, or a listener with the others sharing its port (SocketRow.sharingPort). */
export function socketsOf(row: SocketRow): number {
  return row.sharingPort === undefined ? 1 : 1 + row.sharingPort.length;
}

/** A container runtime whose cgroup path shape names the container (sources/linux/netns-labels.ts). */
export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman';

/** What a network namespace is, as far as the host can tell. */
export interface NetnsLabel {
  /** The namespace file's inode (`net:[4026532177]` → 4026532177): its identity for the kernel. */
  inode: number;
  /** `ip netns` names bound to it (mount points under /run/netns). */
  names?: string[];
  /** The namespace of the host's init process (pid 1 under the /proc read). */
  host?: boolean;
  /** The container or pod a process in it belongs to, from its cgroup path. */
  container?: { runtime?: ContainerRuntime; id: string; pod?: string };
  /** A file that opened it at the reading (/run/netns/NAME, /proc/<pid>/ns/net): for acting in it (reset). */
  path?: string;
  /**
   * Start time of its earliest process when first seen (proc(5) /proc/[pid]/stat field 22, clock
   * ticks after boot): with the inode, its identity, because the kernel gives a freed namespace's
   * inode to a later one. Undefined for a namespace only a bind mount holds.
   */
  started?: number;
}

/** `net:[4026532177]`, or `net:[4026532177]@5321` with a start time: one namespace across its life, not another with its inode. */
export function netnsId(netns: Pick<NetnsLabel, 'inode' | 'started'>): string {
  return netns.started === undefined ? `net:[${netns.inode}]` : `net:[${netns.inode}]@${netns.started}`;
}

/** Whether two labels name the same namespace (both absent: this process's own). */
export function sameNetns(a: Pick<NetnsLabel, 'inode' | 'started'> | undefined, b: Pick<NetnsLabel, 'inode' | 'started'> | undefined): boolean {
  return a?.inode === b?.inode && a?.started === b?.started;
}

/** `web`, `pod 1f2e…`, `docker 3b9c0d1e2f4a`, `host`, or `net:[4026532177]`: short, for a column. */
export function netnsText(netns: NetnsLabel): string {
  if (netns.names?.length) return netns.names[0]!;
  if (netns.host) return 'host';
  const c = netns.container;
  if (c?.pod) return `pod ${c.pod}`;
  if (c) return `${c.runtime ?? 'container'} ${c.id.slice(0, 12)}`;
  return `net:[${netns.inode}]`;
}

export interface ParseProblem {
  /** 1-based line number in the parsed text. */
  line: number;
  message: string;
}

export interface ParseResult<T> {
  rows: T[];
  problems: ParseProblem[];
}

/** protocol + both endpoints: the identity of a flow (the inode distinguishes reuse, see tracker). */
export function connectionKey(row: Pick<SocketRow, 'protocol' | 'local' | 'remote' | 'instance' | 'netns'>): string {
  // join, not a template: V8 keeps a template's pieces as a tree of concatenations, even after
  // hashing it (measured: 266 bytes a key against 56, 20 MB at 100,000 tracked connections).
  const parts: (string | number)[] = [row.protocol, row.local.address, row.local.port, row.remote.address, row.remote.port];
  if (row.instance !== undefined) parts.push(row.instance);
  if (row.netns !== undefined) parts.push(netnsId(row.netns));
  return parts.join(' ');
}

/** `java[812]`, or undefined when the owner is unknown. */
export function ownerLabel(row: Pick<SocketRow, 'pid' | 'process'>): string | undefined {
  return row.pid === undefined ? undefined : `${row.process ?? '?'}[${row.pid}]`;
}

/** `127.0.0.1:5432 -> 10.0.0.5:40100` */
export function flowText(row: Pick<SocketRow, 'local' | 'remote'>): string {
  return `${formatEndpoint(row.local)} -> ${formatEndpoint(row.remote)}`;
}
