import { describe, expect, it } from 'vitest';
import { connectionKey, type SocketRow } from '../../src/core/connection.js';
import { diagnoseAll } from '../../src/core/diagnosis.js';
import type { ConnectionView } from '../../src/core/evaluate.js';
import { groupViews } from '../../src/dashboard/model.js';
import { colorPaint, connectionColumns, connectionLine, escapeTags, fit, groupLine, headerLines, plainPaint } from '../../src/dashboard/render.js';
import { formatConnectionStory } from '../../src/output/explain.js';
import { HOSTILE_NAMES, rawControls } from '../hostile-text.js';

// The dashboard's pure render functions given rows owned by processes with hostile names (views
// written for the test). blessed passes ESC sequences in content straight to the terminal and reads
// `{…}` as tags: both must arrive escaped, and a flagged row's colour must hold to its end.

function view(name: string, flagged: boolean): ConnectionView {
  const row: SocketRow = {
    protocol: 'tcp',
    local: { address: '127.0.0.1', port: 40_000 },
    remote: { address: '127.0.0.1', port: 5432 },
    state: 'CLOSE_WAIT',
    rawState: 'CLOSE-WAIT',
    pid: 4242,
    process: name,
  };
  const v: ConnectionView = {
    connection: { key: connectionKey(row), row, firstSeenMs: 0, lastSeenMs: 0, stateSinceMs: 0, dwellSource: 'observed', transitions: [{ state: 'CLOSE_WAIT', atMs: 0 }] },
    row,
    timing: { dwellMs: 600_000, halfCloseTimerMs: 600_000 },
  };
  if (flagged) v.flag = { kind: 'half-close', severity: 'critical', thresholdMs: 60_000, measured: 600_000, rule: 'default' };
  return v;
}

/** The blessed tags in a line, in order (escaped braces `{open}` / `{close}` are not tags). */
function tagsOf(line: string): string[] {
  return [...line.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!).filter((t) => t !== 'open' && t !== 'close');
}

const columns = connectionColumns(140);

describe.each(HOSTILE_NAMES)('dashboard row of a process named with $what', ({ name, shown }) => {
  it('a flagged row: red from start to end, no other tag, no raw control, the name escaped', () => {
    const line = connectionLine(view(name, true), columns, false, colorPaint);
    expect(tagsOf(line)).toEqual(['red-fg', '/red-fg']);
    expect(line.startsWith('{red-fg}') && line.endsWith('{/red-fg}')).toBe(true);
    expect(rawControls(line)).toEqual([]);
    expect(line).toContain(`4242/${escapeTags(shown).slice(0, 10)}`);
  });

  it("an unflagged row and the selected row carry no tag of the name's making", () => {
    expect(tagsOf(connectionLine(view(name, false), columns, false, colorPaint))).toEqual([]);
    expect(tagsOf(connectionLine(view(name, false), columns, true, plainPaint))).toEqual(['inverse', '/inverse']);
  });

  it('the row keeps its width: the escaped name is measured, not the raw one', () => {
    const plain = connectionLine(view('java', true), columns, false, plainPaint);
    const hostile = connectionLine(view(name, true), columns, false, plainPaint);
    const width = (s: string) => [...s.replace(/\{open\}/g, '{').replace(/\{close\}/g, '}')].length;
    expect(width(hostile)).toBe(width(plain));
  });

  it('the details pane (explain text, escaped for tags) has no tag and no raw control', () => {
    const v = view(name, true);
    const finding = diagnoseAll([v], {}).byConnection.get(v.connection.key)!;
    const details = escapeTags(formatConnectionStory(v, finding, { kind: 'half-close', warningMs: 60_000, rule: 'default' }));
    expect(tagsOf(details)).toEqual([]);
    expect(rawControls(details.replace(/\n/g, ''))).toEqual([]);
  });

  it('a group row keyed by the process name', () => {
    const [group] = groupViews([view(name, true)], 'process');
    const line = groupLine(group!, 120, false, colorPaint);
    expect(tagsOf(line)).toEqual(['yellow-fg', '/yellow-fg']);
    expect(rawControls(line)).toEqual([]);
  });
});

describe('dashboard header and helpers', () => {
  it('a poll failure quoting captured text: one line, red throughout', () => {
    const lines = headerLines(
      { host: 'h', source: 'ss', intervalMs: 2000, paused: false, thresholds: { halfOpenMs: 1, halfCloseMs: 1, idleMs: 1, perStateMs: {} }, failure: 'bad word {/red-fg}\x1b[0m\nX', sort: 'flag' },
      100,
      colorPaint,
    );
    expect(lines[0]!.startsWith('{red-fg}POLL FAILED: bad word {open}/red-fg{close}\\x1b[0m\\nX')).toBe(true);
    expect(tagsOf(lines[0]!)).toEqual(['red-fg', '/red-fg']);
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);
  });

  it('fit measures and cuts the escaped text', () => {
    expect(fit('a\x1bb', 6)).toBe('a\\x1bb');
    expect(fit('a\x1bb', 4)).toBe('a\\x…');
  });
});
