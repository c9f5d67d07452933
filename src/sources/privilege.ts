import { errorCode, type Platform } from '../platform/platform.js';
import { SourceError } from './source.js';

// Whether this process already has what the "run as root, or give CAP_SYS_PTRACE" advice asks
// for: then a link denied to it is denied by something above root's powers (a sandbox's init, as
// on this project's host: `readlink /proc/1/ns/net` EACCES as root with CAP_SYS_PTRACE; an LSM
// policy), and that advice would send the user in a circle.

/** capabilities(7) numbers (linux/capability.h). */
export const CAP_DAC_READ_SEARCH = 2n;
export const CAP_SYS_PTRACE = 19n;

/**
 * From the text of /proc/self/status (proc(5)): whether the effective uid (the second field of
 * `Uid:`) is 0 and the effective capability set (`CapEff:`, hex) holds every one of `capabilities`
 * (default CAP_SYS_PTRACE). False when either line is missing or malformed (not proven privileged).
 */
export function parseRootWithPtrace(status: string, capabilities: readonly bigint[] = [CAP_SYS_PTRACE]): boolean {
  const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(status);
  const capEff = /^CapEff:\s+([0-9a-fA-F]+)\s*$/m.exec(status);
  if (!uid || !capEff) return false;
  const effective = BigInt(`0x${capEff[1]}`);
  return uid[1] === '0' && capabilities.every((capability) => ((effective >> capability) & 1n) === 1n);
}

/**
 * Whether this process runs as root (euid 0) with CAP_SYS_PTRACE (and any other of `capabilities`)
 * in effect, from `/proc/self/status`; false when that cannot be read (the usual advice then
 * stands). Throws SourceError only when a signal interrupted the read.
 */
export async function readRootWithPtrace(platform: Platform, capabilities?: readonly bigint[]): Promise<boolean> {
  try {
    return parseRootWithPtrace(await platform.readText('/proc/self/status'), capabilities);
  } catch (error) {
    if (errorCode(error) === 'EINTERRUPTED') throw new SourceError('interrupted while reading /proc/self/status', { cause: error });
    return false;
  }
}

/**
 * The words in parentheses after "could not be read" for links denied (EACCES/EPERM) to the
 * processes `pids`: to root with CAP_SYS_PTRACE, that no privilege given to tcpdwell would help,
 * naming them (up to `shown`); otherwise the advice to run as root or give CAP_SYS_PTRACE.
 */
export function deniedAdvice(rootWithPtrace: boolean, pids: readonly number[], shown = 3): string {
  if (!rootWithPtrace) return 'permission denied: run as root, or give CAP_SYS_PTRACE';
  const named = pids.slice(0, shown).join(', ') + (pids.length > shown ? ` and ${pids.length - shown} more` : '');
  return `permission denied even to root with CAP_SYS_PTRACE, to ${pids.length === 1 ? 'pid' : 'pids'} ${named}: a sandbox or LSM policy denies it, and no privilege given to tcpdwell will help`;
}

/**
 * Why some owners are hidden, for a notice: /proc/<pid>/fd listings and links need CAP_SYS_PTRACE
 * and CAP_DAC_READ_SEARCH (README, DaemonSet table). Already root with both (`privileged`), a denial
 * is a sandbox's or an LSM's and "run as root" would not help; otherwise that is the advice.
 */
export function ownersHiddenAdvice(privileged: boolean): string {
  return privileged ? 'denied even to root with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: a sandbox or LSM policy' : 'run as root';
}

/** Whether this process is root with what reading every /proc/<pid>/fd takes (ownersHiddenAdvice); false off Linux. */
export function readOwnersPrivilege(platform: Platform): Promise<boolean> {
  return platform.os === 'linux' ? readRootWithPtrace(platform, [CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH]) : Promise.resolve(false);
}
