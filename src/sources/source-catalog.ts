import { errorCode, type Platform } from '../platform/platform.js';
import { errnoWords } from '../platform/errors.js';
import { SOURCE_OS, autoOrder, type LiveSourceName } from './select-source.js';
import type { SourceOptions } from './source.js';
import { resolveKoffi } from './linux/sock-diag-dump.js';

// What each source can tell, and whether it works here (`tcpdwell sources`).

export interface SourceCapabilities {
  name: LiveSourceName;
  platforms: string;
  /** Where the owning process comes from. */
  owners: string;
  /** Last send/receive/peer segment: idle and the half-close restart. */
  activity: string;
  /** States whose dwell is known at the first poll, before any history. */
  firstSightDwell: string;
}

export const SOURCE_CATALOG: readonly SourceCapabilities[] = [
  {
    name: 'ss',
    platforms: 'Linux (iproute2)',
    owners: 'inode → /proc/<pid>/fd',
    activity: 'yes (tcp_info lastsnd/lastrcv/lastack)',
    firstSightDwell: 'SYN_SENT (retransmissions), CLOSE_WAIT/FIN_WAIT_2/CLOSING (lastack), ESTABLISHED, TIME_WAIT',
  },
  {
    name: 'procfs',
    platforms: 'Linux (/proc/net/tcp, tcp6)',
    owners: 'inode → /proc/<pid>/fd',
    activity: 'no',
    firstSightDwell: 'SYN_SENT and SYN_RECEIVED (timeouts), TIME_WAIT',
  },
  {
    name: 'netstat',
    platforms: 'Windows (netstat -ano, any language)',
    owners: 'PID column + tasklist',
    activity: 'no',
    firstSightDwell: 'with PowerShell: SYN_SENT, SYN_RECEIVED, LISTEN (CreationTime)',
  },
  {
    name: 'powershell',
    platforms: 'Windows (Get-NetTCPConnection)',
    owners: 'OwningProcess + tasklist',
    activity: 'no',
    firstSightDwell: 'SYN_SENT, SYN_RECEIVED, LISTEN (CreationTime)',
  },
  {
    name: 'systeminformation',
    platforms: 'anywhere the library runs (macOS, BSD, Linux via netstat -tunap)',
    owners: 'from the library',
    activity: 'no',
    firstSightDwell: 'none',
  },
  {
    name: 'conntrack',
    platforms: 'Linux firewall/NAT (/proc/net/nf_conntrack)',
    owners: 'none (flows through the host have no process)',
    activity: 'yes (last packet either way, from the entry timeout)',
    firstSightDwell: 'every state (time since its last packet)',
  },
  {
    name: 'netlink',
    platforms: 'Linux (NETLINK_SOCK_DIAG through the koffi library)',
    owners: 'inode → /proc/<pid>/fd',
    activity: 'yes (tcp_info lastsnd/lastrcv/lastack)',
    firstSightDwell: 'as ss (the same kernel data, without the text)',
  },
];

export interface Availability {
  available: boolean;
  /** Why not, or a caveat. */
  reason?: string;
}

/** Whether a source can be read on this machine (cheap probes: no full table is read). */
export async function probeSource(name: LiveSourceName, platform: Platform, { procRoot }: SourceOptions): Promise<Availability> {
  // The same rule `--source` applies: a source made for another OS is refused, never probed.
  const madeFor = SOURCE_OS[name];
  if (madeFor !== undefined && madeFor !== platform.os) return { available: false, reason: madeFor === 'linux' ? 'Linux only' : `not on ${platform.os}` };
  switch (name) {
    case 'ss':
      return runs(platform, ['ss', '-V'], 'ss (iproute2) is not installed');
    case 'procfs':
      return readable(platform, `${procRoot}/net/tcp`);
    case 'netstat':
      return runs(platform, ['netstat', '-n', '-p', 'TCP'], 'netstat.exe did not run');
    case 'powershell':
      return runs(platform, ['powershell.exe', '-NoLogo', '-NoProfile', '-NonInteractive', '-Command', 'exit 0'], 'powershell.exe did not run');
    case 'systeminformation':
      try {
        await import('systeminformation');
        return platform.os === 'linux' ? { available: true, reason: 'runs netstat -tunap or ss -tunap through a shell' } : { available: true };
      } catch (error) {
        return { available: false, reason: `the library does not load: ${(error as Error).message}` };
      }
    case 'conntrack':
      return readable(platform, `${procRoot}/net/nf_conntrack`);
    case 'netlink':
      // Cheap: whether the library is there; the kernel is asked at the first poll.
      return resolveKoffi() ? { available: true, reason: 'the kernel is asked at the first poll' } : { available: false, reason: 'the koffi library is not installed' };
  }
}

async function runs(platform: Platform, argv: readonly string[], missing: string): Promise<Availability> {
  try {
    const result = await platform.run(argv, { timeoutMs: 15_000 });
    return result.exitCode === 0 ? { available: true } : { available: false, reason: `${argv.join(' ')} exited with ${result.exitCode}` };
  } catch (error) {
    return { available: false, reason: errorCode(error) === 'ENOENT' ? missing : (error as Error).message };
  }
}

async function readable(platform: Platform, path: string): Promise<Availability> {
  try {
    await platform.readText(path);
    return { available: true };
  } catch (error) {
    return { available: false, reason: errorCode(error) === 'ENOENT' ? `${path} does not exist` : `${path}: ${errnoWords(error)}` };
  }
}

/** The source `--source auto` settles on here: the first available of its order. */
export function autoChoice(platform: Platform, procRoot: string, available: ReadonlyMap<LiveSourceName, Availability>): LiveSourceName | undefined {
  return autoOrder(platform.os, procRoot)
    .map((s) => s.name as LiveSourceName)
    .find((name) => available.get(name)?.available);
}
