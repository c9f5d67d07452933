import { describe, expect, it } from 'vitest';
import type { ConnectionView } from '../../src/core/evaluate.js';
import { connectionColumns, connectionLine, headerLines, plainPaint } from '../../src/dashboard/render.js';
import { closeWait, viewsAfterAMinute } from '../tracked-rows.js';

// The dashboard on narrow terminals (written for the test): what is cut to fit must never be what
// fails closed. A table read in part keeps NOT ALL READ in view at every width, before its
// reasons and before the counts; a flag keeps its severity and the count group's mark.

const base = { host: 'h', source: 'netlink', intervalMs: 2000, paused: false, thresholds: { halfOpenMs: 1, halfCloseMs: 1, idleMs: 1, perStateMs: {} }, sort: 'flag' };
const evaluation = { views: [{}, {}], countFlags: [] } as never;
const unread = ['the tcp6 table was not read', '12 network namespaces not read (web, api, worker-1, worker-2, worker-3 and 7 more)'];
const COUNTS = '2 connections  flagged: half-open 0  half-close 0  idle 0  count 0';
/** The status line (the second line: no notice, no failure), as drawn without colour and tags. */
const status = (width: number) => headerLines({ ...base, evaluation, unread }, width, plainPaint)[1]!;

describe('the status line of a table read in part, at every width', () => {
  it('NOT ALL READ is always first and whole, whatever else is cut', () => {
    for (let width = 14; width <= 220; width++) {
      const line = status(width);
      expect([...line].length, `width ${width}`).toBe(width);
      expect(line.startsWith('NOT ALL READ'), `width ${width}: ${line}`).toBe(true);
    }
  });

  it('the reasons are cut before the counts: the counts stay whole wherever they fit beside the mark', () => {
    for (let width = `NOT ALL READ: ${COUNTS}`.length; width <= 220; width++) {
      const line = status(width).trimEnd();
      expect(line.endsWith(COUNTS), `width ${width}: ${line}`).toBe(true);
    }
    // Wide enough: every reason in full.
    expect(status(220).trimEnd()).toBe(`NOT ALL READ (${unread.join('; ')}): ${COUNTS}`);
    // Between: the reasons cut, marked as cut.
    expect(status(110)).toBe(`NOT ALL READ (the tcp6 table was not rea…): ${COUNTS}`);
    expect(status(150)).toBe(`NOT ALL READ (the tcp6 table was not read; 12 network namespaces not read (web, …): ${COUNTS}`);
  });

  it('a table read in full is as before (no mark)', () => {
    expect(headerLines({ ...base, evaluation }, 60, plainPaint)[1]).toBe(`${COUNTS.slice(0, 59)}…`);
  });
});

describe('the FLAG column keeps severity and the count mark at every width', () => {
  const [view] = viewsAfterAMinute([closeWait({ pid: 7, process: 'leaky' })]);
  const withFlags = (own: 'half-close' | undefined, ownSeverity: 'warning' | 'critical', countSeverity: 'warning' | 'critical' | undefined): ConnectionView => {
    const countFlag = countSeverity ? { kind: 'count' as const, severity: countSeverity, rule: 'leak', group: 'leaky[7] in 127.0.0.1', count: 6, thresholdCount: 5 } : undefined;
    const flag = own ? { kind: own, severity: ownSeverity, thresholdMs: 30_000, measured: 60_000, rule: 'default' } : countFlag;
    return { ...view!, flag, countFlag };
  };
  const flagCell = (v: ConnectionView, width: number) => {
    const columns = connectionColumns(width);
    const line = connectionLine(v, columns, false, plainPaint);
    return [...line].slice(-columns.at(-1)!.width).join('').trimEnd();
  };

  for (const width of [60, 80, 109, 110, 160]) {
    it(`terminal ${width} wide`, () => {
      const both = flagCell(withFlags('half-close', 'critical', 'warning'), width);
      // Its own flag's kind and severity, then the group's mark and severity: never cut off.
      expect(both, both).toMatch(/^h(?:alf-|-)?c(?:lose)?!!(?: |\+)c(?:ou)?n?t?! ?/);
      expect(both).not.toContain('…');
      const critical = flagCell(withFlags('half-close', 'critical', undefined), width);
      expect(critical).toMatch(/^h(?:alf-|-)?c(?:lose)?!!$/);
      const countOnly = flagCell(withFlags(undefined, 'warning', 'critical'), width);
      expect(countOnly).toMatch(/^count!!/);
    });
  }
});
