import { describe, expect, it } from 'vitest';
import { connectionKey, type SocketRow } from '../../src/core/connection.js';
import { diagnoseAll } from '../../src/core/diagnosis.js';
import type { ConnectionView, Evaluation } from '../../src/core/evaluate.js';
import type { CountFlag } from '../../src/core/policy.js';
import { formatCheckSummary, formatCountLine, formatFlaggedLine, formatResetLine } from '../../src/output/check-text.js';
import { formatEventLine } from '../../src/output/events.js';
import { formatConnectionStory } from '../../src/output/explain.js';
import { formatFinding } from '../../src/output/findings.js';
import { connectionToJson } from '../../src/output/json.js';
import { formatNagios } from '../../src/output/nagios.js';
import { formatConnectionTable } from '../../src/output/table.js';
import { HOSTILE_NAMES, forgedLines, rawControls } from '../hostile-text.js';

// Every text formatter given connections owned by processes with hostile names (views written for
// the test, in the shape the tracker gives): each shows the name escaped, on its own line; JSON keeps it exact.

function view(name: string, port: number, rule = 'default'): ConnectionView {
  const row: SocketRow = {
    protocol: 'tcp',
    local: { address: '127.0.0.1', port },
    remote: { address: '127.0.0.1', port: 5432 },
    state: 'CLOSE_WAIT',
    rawState: 'CLOSE-WAIT',
    pid: 4242,
    process: name,
    inode: 777,
  };
  return {
    connection: { key: connectionKey(row), row, firstSeenMs: 0, lastSeenMs: 600_000, stateSinceMs: 0, dwellSource: 'observed', transitions: [{ state: 'CLOSE_WAIT', atMs: 0 }] },
    row,
    timing: { dwellMs: 600_000, halfCloseTimerMs: 600_000 },
    flag: { kind: 'half-close', severity: 'warning', thresholdMs: 60_000, measured: 600_000, rule },
  };
}

const VIEWS = HOSTILE_NAMES.map(({ name }, i) => view(name, 40_000 + i));

describe.each(HOSTILE_NAMES.map((h, i) => ({ ...h, v: VIEWS[i]! })))('a process named with $what', ({ name, shown, v }) => {
  it('check text: one line, the name escaped', () => {
    const line = formatFlaggedLine(v, 'why text')!;
    expect(line).toContain(`${shown}[4242]`);
    expect(line.split('\n')).toHaveLength(1);
    expect(rawControls(line)).toEqual([]);
  });

  it('list table: one row, the name escaped in PID/PROCESS', () => {
    const table = formatConnectionTable([v], { ownersHidden: false, noteFor: () => `note about ${name}` });
    const lines = table.trimEnd().split('\n');
    expect(lines).toHaveLength(3); // header, row, why line
    expect(lines[1]).toContain(`4242/${shown}`);
    expect(lines[2]).toBe(`    why: note about ${shown}`);
    expect(rawControls(table)).toEqual([]);
  });

  it('explain: the name escaped in the first line and the finding', () => {
    const finding = diagnoseAll([v], {}).byConnection.get(v.connection.key)!;
    const story = formatConnectionStory(v, finding, { kind: 'half-close', warningMs: 60_000, rule: 'default' });
    expect(story.split('\n')[0]).toContain(`${shown}[4242]`);
    expect(rawControls(story)).toEqual([]);
    expect(forgedLines(story)).toEqual([]);
  });

  it('watch line: one line, the name escaped', () => {
    const line = formatEventLine({ type: 'opened', atMs: 0, connection: v.connection, firstSight: false });
    expect(line).toContain(`${shown}[4242]`);
    expect(line.split('\n')).toHaveLength(1);
    expect(rawControls(line)).toEqual([]);
  });

  it('JSON keeps the exact name', () => {
    expect(JSON.parse(JSON.stringify(connectionToJson(v))).process).toBe(name);
  });
});

describe('every hostile name in one report', () => {
  const evaluation: Evaluation = { views: VIEWS, countFlags: [] };

  it('check --format nagios: status line, then one long-output line per session; the only | is the perfdata one', () => {
    const out = formatNagios('warning', evaluation, 'ss', []);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(1 + VIEWS.length);
    expect(lines[0]).toMatch(new RegExp(`^TCPDWELL WARNING - ${HOSTILE_NAMES.length} half-close of ${HOSTILE_NAMES.length} connections \\| half_open=0;;; `));
    expect(out.split('|')).toHaveLength(2);
    expect(out).toContain('{red-fg}x\\x7cy=1[4242]');
    expect(out).toContain('a\\nCRITICAL: x[4242]');
    expect(rawControls(out)).toEqual([]);
    expect(forgedLines(out)).toEqual([]);
  });

  it('nagios UNKNOWN: an error quoting captured text stays on the status line, without |', () => {
    const out = formatNagios('unknown', evaluation, 'input', ['capture.txt: bad line "a\nb|c"']);
    expect(out).toBe('TCPDWELL UNKNOWN - capture.txt: bad line "a\\nb\\x7cc" (source input)\n');
  });

  it('a count rule whose name (a config value) holds controls, and its group (a process name)', () => {
    const flag: CountFlag = {
      kind: 'count',
      severity: 'critical',
      rule: 'leak\x1b]0;t\x07\nOK',
      per: 'process',
      group: 'java\rCRITICAL',
      states: ['CLOSE_WAIT'],
      count: 9,
      thresholdCount: 5,
      members: [],
    };
    const line = formatCountLine(flag);
    expect(line).toBe('CRITICAL count: 9 CLOSE_WAIT for process java\\rCRITICAL > 5 (rule leak\\x1b]0;t\\x07\\nOK)');
    const nagios = formatNagios('critical', { views: [], countFlags: [flag] }, 'ss', []);
    expect(nagios.trimEnd().split('\n')).toHaveLength(2);
  });

  it('a rule name and the reset reason are escaped too; summary and findings stay one line each', () => {
    const v = view('ok', 40_100, 'db\nCRITICAL: forged');
    expect(formatFlaggedLine(v)).toContain('(rule db\\nCRITICAL: forged');
    expect(formatResetLine({ view: VIEWS[0]!, outcome: { ended: false, reason: 'ss -K said\x1b[2J' } })).toBe(
      'RESET half-close: CLOSE_WAIT 127.0.0.1:40000 -> 127.0.0.1:5432: not ended (ss -K said\\x1b[2J)',
    );
    expect(formatCheckSummary('unknown', [], [], 'input', ['cannot read /tmp/a\nb'])).toBe('tcpdwell UNKNOWN - cannot read /tmp/a\\nb (source input)');
    const groups = diagnoseAll(VIEWS, {}).groups;
    for (const g of groups) expect(forgedLines(formatFinding(g))).toEqual([]);
  });
});
