import { connectionKey, type SocketRow } from '../../core/connection.js';
import type { Platform } from '../../platform/platform.js';
import { SourceError, type SourceReading } from '../source.js';
import type { NetlinkSource } from './netlink.js';
import type { NetnsHandle } from './netns.js';
import { procfsInodes, procfsSource } from './procfs.js';
import { readSs } from './ss.js';
import type { ProcNetReader } from './request-sockets.js';

// Reading the socket table of one network namespace that may not be ours.
// - procfs: `/proc/<pid>/net/tcp{,6}` shows the namespace of process <pid> (proc(5)); reading it
//   needs no privilege beyond /proc itself, but a namespace no process is in (one held only by an
//   `ip netns` mount) has no such file.
// - netlink: a sock_diag netlink socket answers for the namespace it was opened in, so the netlink
//   source's worker thread opens it there (setns(2) on that thread only, and straight back:
//   sock-diag-dump.ts). No process per namespace.
// - ss: for the same reason ss runs inside it: `nsenter --net=PATH -- ss …` (util-linux), an argv,
//   never a shell string. setns(2) on a network namespace needs CAP_SYS_ADMIN.
// Only netlink and ss give tcp_info (lastsnd/lastrcv: idle).

export type NetnsMethod = 'netlink' | 'ss' | 'procfs';

/** How long ss may take in one namespace (a pod's table is small; 100,000 sockets take ~2.5 s). */
export const NAMESPACE_SS_TIMEOUT_MS = 10_000;

/** The argv prefix that runs a command inside the namespace opened by `path`. */
export function nsenterPrefix(path: string): string[] {
  return ['nsenter', `--net=${path}`, '--'];
}

/**
 * One table of namespace `ns` by `method` (netlink through `netlink`, one source for every
 * namespace: one worker thread). `ownInode` is this process's own namespace: ss and netlink read it
 * directly, without entering it. Throws SourceError (SourceUnavailableError when nsenter, ss or
 * koffi is missing, or the namespace cannot be entered) like any source.
 */
export async function readNamespace(platform: Platform, procRoot: string, ns: NetnsHandle, method: NetnsMethod, ownInode: number | undefined, netlink?: NetlinkSource): Promise<SourceReading> {
  const procDir = ns.pids[0] === undefined ? undefined : `${procRoot}/${ns.pids[0]}`;
  if (method === 'netlink') {
    if (!netlink) throw new SourceError('netlink: no source to read through');
    if (ns.inode === ownInode) return netlink.read(platform, { procRoot });
    return netlink.read(platform, { procRoot, enter: { path: ns.path, inode: ns.inode }, netProcDir: procDir });
  }
  if (method === 'procfs') {
    if (procDir === undefined) {
      throw new SourceError(`no process is in it, so /proc shows no table of it (only --source netlink or ss read it, entering it)`);
    }
    return procfsSource.read(platform, { procRoot: procDir });
  }
  const here = ns.inode === ownInode;
  // One slow namespace must not hold up the others' poll for long.
  const prefix = here ? [] : nsenterPrefix(ns.path);
  const reading = await readSs(platform, procRoot, {
    prefix,
    netProcDir: here ? '/proc' : procDir === undefined ? catInside(platform, prefix) : [procDir, catInside(platform, prefix)],
    timeoutMs: NAMESPACE_SS_TIMEOUT_MS,
  });
  if (procDir !== undefined) await addMissingInodes(platform, procDir, reading.rows);
  return reading;
}

/**
 * A namespace's /proc/net/tcp* read by `cat` run inside it (`prefix`: nsenter): a process in the
 * namespace sees its tables at /proc/self/net (proc(5)), where no /proc/<pid> of ours shows them
 * (a namespace held by its ip netns mount alone). cat's failure is the file's (ENOENT, EACCES).
 */
function catInside(platform: Platform, prefix: readonly string[]): ProcNetReader {
  return {
    where: `/proc/self (cat in ${prefix.find((a) => a.startsWith('--net='))?.slice(6) ?? 'the namespace'})`,
    async readTable(file, onLine) {
      const result = await platform.runLines([...prefix, 'cat', `/proc/self/${file}`], onLine, { timeoutMs: NAMESPACE_SS_TIMEOUT_MS });
      if (result.exitCode !== 0) {
        const said = result.stderr.trim().split('\n')[0] ?? '';
        const code = /No such file/.test(said) ? 'ENOENT' : /Permission denied/.test(said) ? 'EACCES' : 'EIO';
        throw Object.assign(new Error(said || `cat: exit code ${result.exitCode}`), { code });
      }
    },
  };
}

/**
 * ss without -e (no cgroup2 mount) prints no inodes; the same namespace's procfs table has them,
 * and owners are found by inode. Rows procfs does not list keep none. Mutates `rows`.
 */
async function addMissingInodes(platform: Platform, procDir: string, rows: SocketRow[]): Promise<void> {
  if (rows.every((row) => row.inode !== undefined)) return;
  const { byKey } = await procfsInodes(platform, procDir);
  for (const row of rows) {
    const inode = row.inode === undefined ? byKey.get(connectionKey(row)) : undefined;
    if (inode !== undefined) row.inode = inode;
  }
}
