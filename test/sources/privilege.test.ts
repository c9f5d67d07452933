import { describe, expect, it } from 'vitest';
import { CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, deniedAdvice, parseRootWithPtrace } from '../../src/sources/privilege.js';

// /proc/self/status lines as captured on this project's host (root, 2026-12-02; CapEff lacks bit 24).
const STATUS = 'Name:\tnode\nUmask:\t0022\nState:\tR (running)\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\n';

describe('parseRootWithPtrace (/proc/self/status)', () => {
  it('root with CAP_SYS_PTRACE (bit 19) and CAP_DAC_READ_SEARCH (bit 2) in CapEff', () => {
    expect(parseRootWithPtrace(STATUS)).toBe(true);
    expect(parseRootWithPtrace(STATUS, [CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH])).toBe(true);
  });

  it('the effective uid is the second Uid field: real 0, effective 1000 is not root', () => {
    expect(parseRootWithPtrace(STATUS.replace('Uid:\t0\t0', 'Uid:\t0\t1000'))).toBe(false);
    expect(parseRootWithPtrace(STATUS.replace('Uid:\t0\t0', 'Uid:\t1000\t0'))).toBe(true);
  });

  it('a capability missing from CapEff (CapPrm alone does not count)', () => {
    expect(parseRootWithPtrace(STATUS.replace('CapEff:\t000001fffeffffff', 'CapEff:\t000001fffef7ffff'))).toBe(false);
    expect(parseRootWithPtrace(STATUS.replace('CapEff:\t000001fffeffffff', 'CapEff:\t000001fffefffffb'), [CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH])).toBe(false);
  });

  it('lines missing or malformed: not proven privileged', () => {
    expect(parseRootWithPtrace('')).toBe(false);
    expect(parseRootWithPtrace(STATUS.replace(/^CapEff:.*$/m, ''))).toBe(false);
    expect(parseRootWithPtrace(STATUS.replace('CapEff:\t000001fffeffffff', 'CapEff:\tzz'))).toBe(false);
  });
});

describe('deniedAdvice', () => {
  it('names up to three pids, then how many more', () => {
    expect(deniedAdvice(true, [1, 2, 3, 4, 5])).toContain('to pids 1, 2, 3 and 2 more:');
    expect(deniedAdvice(true, [1])).toContain('to pid 1:');
    expect(deniedAdvice(false, [1])).toBe('permission denied: run as root, or give CAP_SYS_PTRACE');
  });
});
