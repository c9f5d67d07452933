import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// What a process costs, read from procfs (proc(5)): its CPU with its children's, and its peak RSS.
// One place for the benchmark, the soak and the dashboard bench, so every figure is read alike.

/** CPU counters of /proc/PID/stat, in clock ticks (proc(5) fields 14–17). */
export interface ProcStatCpu {
  /** Field 14: user time of the process (all its threads). */
  utime: number;
  /** Field 15: system time of the process (all its threads). */
  stime: number;
  /** Field 16: user time of its children that it has waited for (their waited-for children included). */
  cutime: number;
  /** Field 17: system time of the same children. */
  cstime: number;
}

/**
 * Parses the CPU counters from the text of /proc/PID/stat. The command (field 2) is in parentheses
 * and may itself hold spaces and ')', so fields are counted from the last ')'. Throws on text that
 * does not have them (a short or garbled line): a figure that was not read is never 0.
 */
export function parseProcStat(text: string): ProcStatCpu {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/PID/stat line: no ")" after the command');
  // After the command: field 3 (state) is at index 0, so field n is at n - 3.
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (n: number) => {
    const value = fields[n - 3];
    if (value === undefined || !/^\d+$/.test(value)) throw new Error(`not a /proc/PID/stat line: field ${n} is ${value === undefined ? 'missing' : `"${value}"`}`);
    return Number(value);
  };
  return { utime: field(14), stime: field(15), cutime: field(16), cstime: field(17) };
}

/** Memory lines of /proc/PID/status, in KiB. */
export interface ProcStatusMemory {
  /** VmHWM: peak resident set size ("high water mark"). */
  vmHwmKb: number;
  /** VmRSS: resident set size now. */
  vmRssKb: number;
}

/** Parses VmHWM and VmRSS from the text of /proc/PID/status. Throws when either is missing (a kernel thread, a zombie). */
export function parseProcStatus(text: string): ProcStatusMemory {
  const kb = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
    if (!match) throw new Error(`no ${name} line in /proc/PID/status`);
    return Number(match[1]);
  };
  return { vmHwmKb: kb('VmHWM'), vmRssKb: kb('VmRSS') };
}

let tickMs: number | undefined;
/** Milliseconds per clock tick (1000 / `getconf CLK_TCK`; 10 ms on every Linux seen). */
export function clockTickMs(): number {
  if (tickMs === undefined) {
    const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    tickMs = hz > 0 ? 1000 / hz : 10;
  }
  return tickMs;
}

/** A process's CPU so far in ms: its own (every thread) and its waited-for children's. */
export interface CpuMs {
  own: number;
  children: number;
}

/** Reads /proc/PID/stat ('self' for this process). */
export function readCpuMs(pid: number | 'self'): CpuMs {
  const cpu = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const tick = clockTickMs();
  return { own: (cpu.utime + cpu.stime) * tick, children: (cpu.cutime + cpu.cstime) * tick };
}

/** own + children, in ms. */
export const totalCpuMs = (cpu: CpuMs) => cpu.own + cpu.children;

/** Reads /proc/PID/status ('self' for this process). */
export function readMemoryKb(pid: number | 'self'): ProcStatusMemory {
  return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}
