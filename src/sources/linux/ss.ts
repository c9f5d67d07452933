import { errorCode, type Platform } from '../../platform/platform.js';
import { UnusableInputError } from '../unusable-input.js';
import type { TcpState } from '../../core/tcp-state.js';
import { SourceError, SourceUnavailableError, readUptimeMs, summarizeProblems, type ReadRequest, type SocketSource, type SourceReading } from '../source.js';
import { SsParser } from './parse-ss.js';
import { addRequestSocketAges, type RequestTablePlace } from './request-sockets.js';

// Fixed argvs (ss's columns change with its flags): TCP, all states, numeric, timers (-o), tcp_info
// (-i), and with -e the inode and uid. No -H, so older iproute2 works too; the parser skips the header.
export const SS_ARGV = ['ss', '-t', '-a', '-n', '-o', '-i', '-e'] as const;
// Without a cgroup2 mount (containers, `ip netns exec`), `ss -e` fails a cgroup lookup for every
// socket: one stderr line each and 5× the time (2.4 s against 0.48 s at 100,000 sockets, measured).
// There it runs without -e; rows then carry no inode, and owners are found through procfs instead.
export const SS_ARGV_WITHOUT_INODES = ['ss', '-t', '-a', '-n', '-o', '-i'] as const;

// `State  Recv-Q Send-Q  Local Address:Port …` (iproute2 4.x to 6.x; `Netid` first with other socket types).
const SS_HEADER = /^(Netid\s+)?State\s+Recv-Q\s+Send-Q/;

/** Whether a cgroup2 file system is mounted where ss will look (our own mount namespace). */
export function hasCgroup2Mount(mounts: string): boolean {
  return mounts.split('\n').some((line) => line.split(' ')[2] === 'cgroup2');
}

// Mounts do not change under a running tcpdwell: decided once per platform.
const argvChoices = new WeakMap<Platform, Promise<readonly string[]>>();
function chooseArgv(platform: Platform): Promise<readonly string[]> {
  let choice = argvChoices.get(platform);
  if (!choice) {
    choice = platform
      .readText('/proc/self/mounts')
      .then((mounts) => (hasCgroup2Mount(mounts) ? SS_ARGV : SS_ARGV_WITHOUT_INODES))
      .catch(() => SS_ARGV_WITHOUT_INODES);
    argvChoices.set(platform, choice);
  }
  return choice;
}

// ss's words for its `state` filter (ss(8) STATE-FILTER); the states without one are never filtered.
export const SS_STATE_WORDS: Readonly<Partial<Record<TcpState, string>>> = {
  ESTABLISHED: 'established',
  SYN_SENT: 'syn-sent',
  SYN_RECEIVED: 'syn-recv',
  FIN_WAIT_1: 'fin-wait-1',
  FIN_WAIT_2: 'fin-wait-2',
  TIME_WAIT: 'time-wait',
  CLOSED: 'closed',
  CLOSE_WAIT: 'close-wait',
  LAST_ACK: 'last-ack',
  LISTEN: 'listening',
  CLOSING: 'closing',
};

/**
 * ss's `state W state W …` filter for `states` (the kernel filters the dump, as ss asks it), or []
 * (every state) when a state has no ss word or fewer than two are asked: ss drops its State column
 * when its filter holds a single state (iproute2 6.1, checked), and every row would lose its state.
 */
export function ssStateFilter(states: readonly TcpState[] | undefined): string[] {
  if (!states) return [];
  const words = [...new Set(states.map((s) => SS_STATE_WORDS[s]))];
  if (words.length < 2 || words.includes(undefined)) return [];
  return words.flatMap((word) => ['state', word!]);
}

export const ssSource: SocketSource = {
  name: 'ss',
  read: (platform: Platform, { procRoot }, request?: ReadRequest): Promise<SourceReading> => readSs(platform, procRoot, undefined, request?.states),
};

/**
 * Where ss runs when not in this process's own network namespace: `prefix` goes before its argv
 * (`nsenter --net=PATH --`), and `netProcDir` is a /proc directory showing that namespace's
 * tables (`/proc/<pid>`), or undefined when no process is in it.
 */
export interface SsPlace {
  prefix: readonly string[];
  /** Or a reader of its tables from inside it (request-sockets.ts ProcNetReader). */
  netProcDir: RequestTablePlace | readonly RequestTablePlace[] | undefined;
  /** How long ss may run (default 30 s). */
  timeoutMs?: number;
}

/** One ss table, here or (with `place`) in another network namespace. Throws as SocketSource.read. */
export async function readSs(platform: Platform, procRoot: string, place: SsPlace = { prefix: [], netProcDir: '/proc' }, states?: readonly TcpState[]): Promise<SourceReading> {
  const filter = ssStateFilter(states);
  // Parsed while ss writes: the two overlap on two cores, and the 60 MB of text that 100,000
  // sockets make never exist at once.
  const parser = new SsParser({ uptimeMs: await readUptimeMs(platform, procRoot) });
  // ss prints its header even over an empty table: without it and without a row, ss said nothing.
  let sawHeader = false;
  const onLine = (line: string) => {
    if (!sawHeader && SS_HEADER.test(line)) sawHeader = true;
    parser.line(line);
  };
  let result;
  try {
    result = await platform.runLines([...place.prefix, ...(await chooseArgv(platform)), ...filter], onLine, { timeoutMs: place.timeoutMs ?? 30_000 });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') throw new SourceUnavailableError(place.prefix.length > 0 ? `${place.prefix[0]} is not installed` : 'ss (iproute2) is not installed', { cause: error });
    throw new SourceError(`ss failed: ${(error as Error).message}`);
  }
  if (result.exitCode !== 0) {
    const reason = result.stderr.split('\n').find((l) => l.trim() && !l.includes('cgroup2')) ?? `exit code ${result.exitCode}`;
    throw new SourceError(`${place.prefix.length > 0 ? `${place.prefix.join(' ')} ss` : 'ss'} failed: ${reason.trim()}`);
  }
  try {
    const parsed = parser.finish();
    // ss reads this process's own namespace, whatever --proc-root names: so does /proc/net/tcp
    // (elsewhere, the /proc directory of a process in the namespace ss ran in).
    const reading: SourceReading = {
      source: 'ss',
      rows: parsed.rows,
      completeProtocols: ['tcp', 'tcp6'],
      notices: summarizeProblems('ss', parsed.problems),
      emptyTableProven: sawHeader && parsed.problems.length === 0,
    };
    await addRequestSocketAges(platform, place.netProcDir, parsed.rows, reading);
    if (filter.length > 0) reading.states = [...states!];
    return reading;
  } catch (error) {
    if (error instanceof UnusableInputError) throw new SourceError(`ss: ${error.message}`, { cause: error });
    throw error;
  }
}
