import { describe, expect, it } from 'vitest';
import { parseProcStat, parseProcStatus } from '../../scripts/process-usage.js';

// Inputs written for the test, in the shape proc(5) gives and this kernel printed (6.18: `cat
// /proc/self/stat`, `grep Vm /proc/self/status`), with counters changed to tell the fields apart.

describe('parseProcStat', () => {
  it('reads utime, stime, cutime and cstime (fields 14–17)', () => {
    const line = '15987 (node) S 15985 15985 10360 0 -1 4194304 100 0 0 0 812 95 1234 56 20 0 11 0 1761040 3133440 383 18446744073709551615\n';
    expect(parseProcStat(line)).toEqual({ utime: 812, stime: 95, cutime: 1234, cstime: 56 });
  });

  it('counts fields from the last ")", so a command holding spaces and ")" does not shift them', () => {
    const line = '42 (a) b (c)) R 1 42 42 0 -1 4194304 7 0 0 0 3 4 5 6 20 0 1 0 99 1000 10 0';
    expect(parseProcStat(line)).toEqual({ utime: 3, stime: 4, cutime: 5, cstime: 6 });
  });

  it('throws on a cut-off line instead of giving 0', () => {
    expect(() => parseProcStat('42 (node) S 1 42 42 0 -1 4194304 7 0 0 0 3 4')).toThrow(/field 16 is missing/);
    expect(() => parseProcStat('no command here')).toThrow(/no "\)"/);
  });
});

describe('parseProcStatus', () => {
  it('reads VmHWM and VmRSS in KiB (a tab, then spaces)', () => {
    const text = 'Name:\tnode\nVmPeak:\t 1200000 kB\nVmSize:\t 1100000 kB\nVmHWM:\t  153600 kB\nVmRSS:\t  120000 kB\nVmData:\t   424 kB\n';
    expect(parseProcStatus(text)).toEqual({ vmHwmKb: 153600, vmRssKb: 120000 });
  });

  it('throws when a line is missing (a kernel thread or a zombie has none)', () => {
    expect(() => parseProcStatus('Name:\tkworker/0:1\nState:\tI (idle)\n')).toThrow(/no VmHWM line/);
  });
});
