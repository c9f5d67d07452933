import type { SocketSource, SourceOptions } from '../source.js';
import { ALL_TCP_STATES, TcpState } from '../../core/tcp-state.js';
import type { Protocol } from '../../core/address.js';
import type { Platform } from '../../platform/platform.js';

import { UnusableInputError } from '../unusable-input.js';
import { probeReadable, probeRuns } from '../probe.js';
import { defineSource } from '../source-record.js';
import { ConntrackSource } from './conntrack.js';
import { NetlinkSource } from './netlink.js';
import { resolveKoffi } from './sock-diag-dump.js';
import { readHostFacts } from './host-facts.js';
import { ProcOwners } from './owners.js';
import { parseConntrack } from './parse-conntrack.js';
import { parseLinuxNetstat } from './parse-netstat-linux.js';
import { parseProcNetTcp } from './parse-procfs.js';
import { parseSs } from './parse-ss.js';
import { procfsSource } from './procfs.js';
import { ssSource } from './ss.js';

// The Linux sources' registry records (registry.ts lists them).

const PROCFS_HEADER = /^\s*sl\s+local_address/;
// The states whose dwell ss's and sock_diag's tcp_info bound at the first poll (the same kernel data).
const TCP_INFO_FIRST_SIGHT = [
  TcpState.SYN_SENT,
  TcpState.SYN_RECEIVED,
  TcpState.FIN_WAIT_1,
  TcpState.LAST_ACK,
  TcpState.CLOSE_WAIT,
  TcpState.FIN_WAIT_2,
  TcpState.CLOSING,
  TcpState.TIME_WAIT,
  TcpState.ESTABLISHED,
];
const TCP_INFO_FIRST_SIGHT_WORDS =
  'SYN_SENT (retransmissions), SYN_RECEIVED (timeouts, from /proc/net/tcp*), FIN_WAIT_1 and LAST_ACK (FIN back-off), CLOSE_WAIT/FIN_WAIT_2/CLOSING (lastack), ESTABLISHED, TIME_WAIT';
const procOwners = (platform: Platform, { procRoot }: SourceOptions) => new ProcOwners(platform, procRoot);
const hostFacts = (platform: Platform, { procRoot }: SourceOptions) => readHostFacts(platform, procRoot);

/** Both /proc/net headers: tcp and tcp6 were captured; one alone does not say which. */
function procfsTablesIn(body: string): number {
  return body.split('\n').filter((l) => PROCFS_HEADER.test(l)).length;
}

export const ssRecord = defineSource({
  name: 'ss',
  vocabulary: 'ss',
  live: {
    os: 'linux',
    readsOwnNamespace: true,
    capabilities: {
      owners: 'lookup',
      hostFacts: true,
      activity: true,
      firstSight: TCP_INFO_FIRST_SIGHT,
      netns: true,
    },
    summary: {
      platforms: 'Linux (iproute2)',
      owners: 'inode → /proc/<pid>/fd',
      activity: 'yes (tcp_info lastsnd/lastrcv/lastack)',
      firstSightDwell: TCP_INFO_FIRST_SIGHT_WORDS,
    },
    docs: {
      title: '`ss` (Linux)',
      reads: '`ss -t -a -n -o -i -e`, `LC_ALL=C`, parsed line by line while ss writes; without `-e` where no cgroup2 is mounted (ss would fail a cgroup lookup per socket, at 5× the time)',
      pid: 'by inode from `/proc/<pid>/fd` (without `-e`, the inode comes from `/proc/net/tcp*`, only for rows that need an owner, or from the procfs read a SYN-RECV row already caused)',
      activity: 'yes (`lastsnd`, `lastrcv`, `lastack`; absent in the tcp_info block means 0)',
      firstSight: 'SYN_SENT, SYN_RECEIVED (timeout count from `/proc/net/tcp*` when a SYN-RECV row is seen), FIN_WAIT_1 and LAST_ACK (FIN back-off), half-close, TIME_WAIT, ESTABLISHED',
    },
    probe: (platform) => probeRuns(platform, ['ss', '-V'], 'ss (iproute2) is not installed'),
    create: (): SocketSource => ssSource,
    // A non-default proc root is a foreign /proc (a container's host view) that `ss` cannot see.
    auto: { rank: 10, when: (_os, procRoot) => procRoot === '/proc', fallback: { shownAs: 'ss' } },
    owners: procOwners,
    hostFacts,
    nothingReadHint: 'ss printed neither its header nor a socket',
  },
  input: {
    format: 'ss',
    choiceRank: 2,
    detect: /^((tcp|udp|u_str|u_dgr|u_seq|raw|nl|p_raw|p_dgr)\s+)?(ESTAB|LISTEN|SYN-SENT|SYN-RECV|FIN-WAIT-[12]|TIME-WAIT|CLOSE-WAIT|LAST-ACK|CLOSING|UNCONN)\s+\d+\s+\d+|^(Netid\s+)?State\s+Recv-Q/,
    detectRank: 60,
    emptyTableHeader: /^(Netid\s+)?State\s+Recv-Q\s+Send-Q/,
    parse: (body) => parseSs(body),
  },
});

export const procfsRecord = defineSource({
  name: 'procfs',
  vocabulary: 'linux-proc-hex',
  live: {
    os: 'linux',
    capabilities: {
      owners: 'lookup',
      hostFacts: true,
      activity: false,
      firstSight: [TcpState.SYN_SENT, TcpState.SYN_RECEIVED, TcpState.FIN_WAIT_1, TcpState.LAST_ACK, TcpState.TIME_WAIT],
      netns: true,
    },
    summary: {
      platforms: 'Linux (/proc/net/tcp, tcp6)',
      owners: 'inode → /proc/<pid>/fd',
      activity: 'no',
      firstSightDwell: 'SYN_SENT and SYN_RECEIVED (timeouts), FIN_WAIT_1 and LAST_ACK (FIN back-off), TIME_WAIT',
    },
    docs: {
      title: '`procfs` (Linux)',
      reads: '`/proc/net/tcp`, `/proc/net/tcp6`, read on a worker thread and parsed chunk by chunk meanwhile',
      pid: 'by inode',
      activity: 'no: idle is not measured (`check` says so in its notices and Nagios long output) and half-close is time in state (flag lines say `in state`, not `half-close timer`)',
      firstSight: 'SYN_SENT, SYN_RECEIVED, FIN_WAIT_1 and LAST_ACK (FIN back-off), TIME_WAIT',
    },
    probe: (platform, { procRoot }) => probeReadable(platform, `${procRoot}/net/tcp`),
    create: (): SocketSource => procfsSource,
    auto: { rank: 20, fallback: { shownAs: '/proc/net/tcp', limits: 'no activity data: idle and half-close restarts are not measured' } },
    owners: procOwners,
    hostFacts,
  },
  input: {
    format: 'procfs',
    choiceRank: 1,
    detect: /^\s*(\d+:\s+[0-9A-Fa-f]{8,32}:[0-9A-Fa-f]{4}\s|sl\s+local_address)/,
    detectRank: 10,
    emptyTableHeader: PROCFS_HEADER,
    emptyTableProtocols: (body) => (procfsTablesIn(body) >= 2 ? ['tcp', 'tcp6'] : []),
    parse: (body) => {
      const { rows, problems } = parseProcNetTcp(body);
      // A tcp-only or tcp6-only file: the other table was not captured.
      const completeProtocols: Protocol[] = procfsTablesIn(body) < 2 ? [...new Set(rows.map((r) => r.protocol))] : ['tcp', 'tcp6'];
      return { rows, problems, completeProtocols };
    },
  },
});

export const conntrackRecord = defineSource({
  name: 'conntrack',
  vocabulary: 'conntrack',
  live: {
    os: 'linux',
    capabilities: { owners: 'none', hostFacts: true, activity: true, firstSight: ALL_TCP_STATES.filter((s) => s !== TcpState.UNKNOWN && s !== TcpState.DELETE_TCB && s !== TcpState.BOUND) },
    summary: {
      platforms: 'Linux firewall/NAT (/proc/net/nf_conntrack)',
      owners: 'none (flows through the host have no process)',
      activity: 'yes (last packet either way, from the entry timeout)',
      firstSightDwell: 'every state (time since its last packet)',
    },
    docs: {
      title: '`conntrack` (Linux router/NAT)',
      reads: "`/proc/net/nf_conntrack` + the namespace's `nf_conntrack_tcp_timeout_*`",
      pid: 'none: flows through a router have no process',
      activity:
        'last packet either way (`[UNREPLIED]` is a half-open flow); none for a flow offloaded to a flowtable (`[OFFLOAD]`, `[HW_OFFLOAD]`: no timeout, no state word), shown ESTABLISHED with `offload` set and idle unknown',
      firstSight: 'every state',
    },
    probe: (platform, { procRoot }) => probeReadable(platform, `${procRoot}/net/nf_conntrack`),
    create: (): SocketSource => new ConntrackSource(),
    hostFacts,
  },
  input: {
    format: 'conntrack',
    choiceRank: 7,
    // The seconds left are absent on offloaded entries (`tcp 6 src=… [OFFLOAD]`), the trailer is conntrack -L's.
    detect: /^(ipv[46]\s+\d+\s+)?(tcp|udp|icmp|icmpv6|sctp)\s+\d+\s.*\bsrc=|^conntrack v\S+ \(conntrack-tools\)/,
    detectRank: 20,
    needsTableLine: true,
    parse: (body, { label }) => {
      // Offline, the sysctl timeouts are unknown: no time since the last packet.
      const parsed = parseConntrack(body);
      const notices = [`${label}: conntrack entries carry no process; time since the last packet needs the host's timeouts, so idle is not measured offline`];
      if (parsed.missingEntries) notices.push(`${label}: ${parsed.missingEntries}`);
      // The trailer counts entries the text does not hold: with none left, nothing was read.
      if (parsed.rows.length === 0 && parsed.missingEntries) throw new UnusableInputError(`no row could be read: ${parsed.missingEntries}`);
      return { rows: parsed.rows, problems: parsed.problems, notices };
    },
  },
});

/**
 * Whether `auto` tries the netlink (sock_diag) source first: netlink → ss → procfs on Linux with
 * this process's /proc, one notice on a fallback (the koffi library missing, the kernel refusing
 * sock_diag). Tests pass `netlinkFirst: false` to pin the order without it.
 */
export const NETLINK_FIRST_IN_AUTO = true;

/** Whether `auto` (with or without --netns) tries netlink first: `netlinkFirst` when given, else NETLINK_FIRST_IN_AUTO unless the platform opens no kernel socket. */
export function netlinkFirstInAuto(options: { netlinkFirst?: boolean | undefined; kernelSockets?: boolean | undefined }): boolean {
  return options.netlinkFirst ?? (NETLINK_FIRST_IN_AUTO && options.kernelSockets !== false);
}

export const netlinkRecord = defineSource({
  name: 'netlink',
  // The kernel's own state numbers (include/net/tcp_states.h), as /proc/net/tcp prints them in hex.
  vocabulary: 'linux-proc-hex',
  live: {
    os: 'linux',
    readsOwnNamespace: true,
    capabilities: { owners: 'lookup', hostFacts: true, activity: true, firstSight: TCP_INFO_FIRST_SIGHT, netns: true },
    summary: {
      platforms: 'Linux (NETLINK_SOCK_DIAG through the koffi library)',
      owners: 'inode → /proc/<pid>/fd',
      activity: 'yes (tcp_info lastsnd/lastrcv/lastack)',
      firstSightDwell: `as ss (the same kernel data, without the text): ${TCP_INFO_FIRST_SIGHT_WORDS}`,
    },
    docs: {
      title: '`netlink` (Linux)',
      reads:
        "the kernel's `NETLINK_SOCK_DIAG` directly: one dump of both families in one walk of its tables (`TCPDIAG_GETSOCK`; one `SOCK_DIAG_BY_FAMILY` dump per family where a kernel refuses it) with `INET_DIAG_INFO` (tcp_info), each `recv()` on libuv's thread pool (koffi's asynchronous calls), parsed datagram by datagram on the main thread as each arrives (bounds-checked: an older kernel's shorter tcp_info gives fewer fields, never wrong ones); rows keep the socket cookie (`sk:` in `ss -e`)",
      pid: 'by inode, as `ss`',
      activity: 'yes, as `ss` (the same tcp_info, without the text)',
      firstSight: 'as `ss`',
    },
    // Cheap: whether the library is there (it loads on the dump's worker only); the kernel is asked at the first poll.
    probe: (platform) =>
      Promise.resolve(
        !platform.kernelSockets
          ? { available: false, reason: 'this platform opens no kernel socket' }
          : resolveKoffi()
            ? { available: true, reason: 'the kernel is asked at the first poll' }
            : { available: false, reason: 'the koffi library is not installed' },
      ),
    create: (): SocketSource => new NetlinkSource(),
    auto: {
      rank: 5,
      // sock_diag sees this namespace's sockets only: not a foreign /proc's (as ss).
      when: (_os, procRoot, auto) => procRoot === '/proc' && netlinkFirstInAuto(auto),
      create: ({ netlink }): SocketSource => new NetlinkSource(netlink),
    },
    owners: procOwners,
    hostFacts,
  },
});

/** net-tools `netstat -tan[p][o]` captures (no live source: ss reads the same table better). */
export const linuxNetstatRecord = defineSource({
  name: 'linux-netstat',
  vocabulary: 'linux-netstat',
  input: {
    format: 'linux-netstat',
    choiceRank: 3,
    detect: /^tcp6?\s+\d+\s+\d+\s+\S+:\S+\s+\S+:\S+/,
    detectRank: 40,
    // Its column names are translated (es `Proto  Recib Enviad Dirección local`); `Proto` is not.
    emptyTableHeader: /^Proto\s+\S+\s+\S+\s+\S/,
    needsTableLine: true,
    parse: (body) => parseLinuxNetstat(body),
  },
});
