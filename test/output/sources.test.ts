import { describe, expect, it } from 'vitest';
import { formatSourcesJson, formatSourcesText, hanging, type SourceHere } from '../../src/output/sources.js';
import { LIVE_SOURCES } from '../../src/sources/registry.js';

const width = (line: string) => [...line].length;
const words = (text: string) => text.split(/\s+/).filter(Boolean);

function entries(reason?: string): SourceHere[] {
  return LIVE_SOURCES.map((record, i) => ({ record, availability: i % 2 === 0 ? { available: true } : { available: false, ...(reason ? { reason } : {}) } }));
}

describe('tcpdwell sources, text', () => {
  it('fits 80 columns and loses no word of what each source can tell, its platform or why not', () => {
    // A long reason, written for the test in the shape of a probe's (a command's error message).
    const reason = 'ss -V exited with 1: Cannot open netlink socket: Protocol not supported by this kernel build';
    const text = formatSourcesText(entries(reason), 'ss');
    const lines = text.trimEnd().split('\n');
    expect(lines.filter((l) => width(l) > 80)).toEqual([]);
    const all = words(text).join(' ');
    for (const record of LIVE_SOURCES) {
      const { summary } = record.live;
      for (const part of [summary.owners, summary.activity, summary.firstSightDwell, summary.platforms]) expect(all).toContain(words(part).join(' '));
    }
    expect(all).toContain(words(reason).join(' '));
    // Wrapped lines stay in their column: each continuation starts under the first line's text.
    const tellAt = lines[0]!.indexOf('OWNERS');
    expect(lines[1]!.indexOf('owners:')).toBe(tellAt);
    expect(lines[2]!.indexOf('activity:')).toBe(tellAt);
  });

  it('a narrower width is honoured too, and a word longer than a line is cut, not lost', () => {
    const text = formatSourcesText(entries(), undefined, 60);
    expect(text.split('\n').filter((l) => width(l) > 60)).toEqual([]);
    expect(text.trimEnd().split('\n').pop()).toBe('--source auto finds no usable source here.');
    expect(hanging('abcdefghij kl', 4, 1)).toEqual(['abcd', ' efg', ' hij', ' kl']);
    expect(hanging('one two three', 8, 2)).toEqual(['one two', '  three']);
    expect(hanging('', 8, 2)).toEqual(['']);
  });
});

describe('tcpdwell sources --json', () => {
  it('keeps its first eight fields in their order and adds the record: os, capabilities, vocabulary, input format', () => {
    const report = JSON.parse(formatSourcesJson(entries('why not'), 'procfs')) as Record<string, unknown>[];
    expect(report.map((r) => r.name)).toEqual(['ss', 'procfs', 'netstat', 'powershell', 'systeminformation', 'conntrack', 'netlink']);
    expect(Object.keys(report[0]!)).toEqual(['name', 'platforms', 'owners', 'activity', 'firstSightDwell', 'available', 'reason', 'auto', 'os', 'capabilities', 'vocabulary', 'inputFormat']);
    expect(report[1]).toMatchObject({ name: 'procfs', available: false, reason: 'why not', auto: true, os: 'linux', vocabulary: 'linux-proc-hex', inputFormat: 'procfs' });
    expect(report[1]!.capabilities).toEqual({ owners: 'lookup', hostFacts: true, activity: false, firstSight: ['SYN_SENT', 'SYN_RECEIVED', 'FIN_WAIT_1', 'LAST_ACK', 'TIME_WAIT'], netns: true });
    expect(report[4]).toMatchObject({ name: 'systeminformation', os: null, inputFormat: null, reason: null });
  });

  it("each source's prose names every state its capabilities list (the two cannot drift apart)", () => {
    for (const { name, live } of LIVE_SOURCES) {
      const prose = live.summary.firstSightDwell;
      if (prose.startsWith('every state')) continue;
      for (const state of live.capabilities.firstSight) expect([name, prose]).toEqual([name, expect.stringContaining(state)]);
      if (live.capabilities.firstSight.length === 0) expect([name, prose]).toEqual([name, expect.stringMatching(/^(none|with PowerShell)/)]);
    }
  });
});
