import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SOURCES_TABLE_BEGIN, SOURCES_TABLE_END, formatSourcesMarkdown, withSourcesTable } from '../../src/output/sources.js';
import { detectInputFormat } from '../../src/sources/captured-table.js';
import { INPUT_DETECTION_ORDER, INPUT_FORMATS, LIVE_SOURCES, SOURCE_NAMES, SOURCE_RECORDS, autoRecords } from '../../src/sources/registry.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('the source registry', () => {
  it("the README's sources table is the registry's (regenerate with npm run docs:sources)", () => {
    expect(withSourcesTable(README, LIVE_SOURCES)).toBe(README);
    // One table row per live source, each named in its first cell.
    const table = README.slice(README.indexOf(SOURCES_TABLE_BEGIN), README.indexOf(SOURCES_TABLE_END));
    for (const record of LIVE_SOURCES) expect(table).toContain(`| \`${record.name}\` (`);
  });

  it('a README without the markers is refused, not silently left stale', () => {
    expect(() => withSourcesTable('# tcpdwell\n\n| source | reads |\n', LIVE_SOURCES)).toThrow(/no sources table markers/);
  });

  it('a record changed in the registry changes the generated table', () => {
    const [first, ...rest] = LIVE_SOURCES;
    const changed = { ...first!, live: { ...first!.live, docs: { ...first!.live.docs, activity: 'written for this test' } } };
    const regenerated = withSourcesTable(README, [changed, ...rest]);
    expect(regenerated).not.toBe(README);
    expect(regenerated).toContain('| written for this test |');
    // A | inside a cell is escaped, so a cell cannot split the row.
    expect(formatSourcesMarkdown([{ ...changed, live: { ...changed.live, docs: { ...changed.live.docs, pid: 'a|b' } } }])).toContain('| a\\|b |');
  });

  it('--source and --input-format choices are derived from the records', () => {
    expect(SOURCE_NAMES).toEqual(['auto', ...LIVE_SOURCES.map((r) => r.name)]);
    expect(SOURCE_NAMES).toEqual(['auto', 'ss', 'procfs', 'netstat', 'powershell', 'systeminformation', 'conntrack', 'netlink']);
    expect(INPUT_FORMATS).toEqual(['procfs', 'ss', 'linux-netstat', 'windows-netstat', 'powershell', 'macos-netstat', 'conntrack']);
    expect(new Set(SOURCE_RECORDS.map((r) => r.name)).size).toBe(SOURCE_RECORDS.length);
  });

  it('every declared capability is given: a lookup has an owners(), host facts a hostFacts()', () => {
    for (const { name, live } of LIVE_SOURCES) {
      expect([name, live.capabilities.owners === 'lookup'], name).toEqual([name, live.owners !== undefined]);
      expect([name, live.capabilities.hostFacts], name).toEqual([name, live.hostFacts !== undefined]);
    }
  });

  it("auto's order per OS comes from the records' ranks, and only sources made for that OS are in it", () => {
    expect(autoRecords('linux', '/proc').map((r) => r.name)).toEqual(['netlink', 'ss', 'procfs']);
    expect(autoRecords('linux', '/host/proc').map((r) => r.name)).toEqual(['procfs']);
    // netlink goes first (NETLINK_FIRST_IN_AUTO), except where the platform opens no kernel socket, and never with a foreign /proc.
    expect(autoRecords('linux', '/proc', { kernelSockets: false }).map((r) => r.name)).toEqual(['ss', 'procfs']);
    expect(autoRecords('linux', '/proc', { netlinkFirst: true }).map((r) => r.name)).toEqual(['netlink', 'ss', 'procfs']);
    expect(autoRecords('linux', '/host/proc', { netlinkFirst: true }).map((r) => r.name)).toEqual(['procfs']);
    expect(autoRecords('win32', '/proc', { netlinkFirst: true }).map((r) => r.name)).toEqual(['netstat', 'systeminformation']);
    expect(autoRecords('win32', '/proc').map((r) => r.name)).toEqual(['netstat', 'systeminformation']);
    expect(autoRecords('freebsd', '/proc').map((r) => r.name)).toEqual(['systeminformation']);
    for (const os of ['linux', 'win32', 'darwin']) for (const r of autoRecords(os, '/proc')) expect([r.name, r.live.os ?? os]).toEqual([r.name, os]);
  });

  it('each line pattern detects its own format; detection order puts the whole-text check first', () => {
    // Lines written for the test, one per format, in each tool's real row shape.
    const samples: Record<string, string> = {
      procfs: '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n',
      conntrack: 'ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.2 dst=10.0.0.1 sport=40000 dport=22 src=10.0.0.1 dst=10.0.0.2 sport=22 dport=40000 [ASSURED] mark=0 zone=0 use=2\n',
      // (detection trims the text's start: a real capture has netstat's title first)
      'windows-netstat': 'Active Connections\n\n  TCP    127.0.0.1:1110         127.0.0.1:54995        ESTABLISHED     2588\n',
      'linux-netstat': 'tcp        0      0 127.0.0.1:5432          127.0.0.1:40000         ESTABLISHED\n',
      'macos-netstat': 'tcp4       0      0  127.0.0.1.5432         127.0.0.1.40000        ESTABLISHED\n',
      ss: 'ESTAB 0      0      127.0.0.1:5432 127.0.0.1:40000\n',
      powershell: '[{"LocalAddress":"127.0.0.1","LocalPort":5432,"RemoteAddress":"127.0.0.1","RemotePort":40000,"State":5,"OwningProcess":4}]\n',
    };
    for (const format of INPUT_FORMATS) expect([format, detectInputFormat(samples[format]!)]).toEqual([format, format]);
    expect(INPUT_DETECTION_ORDER[0]!.detectWhole).toBeDefined();
  });
});
