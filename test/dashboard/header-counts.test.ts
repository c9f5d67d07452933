import { describe, expect, it } from 'vitest';
import { headerLines, plainPaint } from '../../src/dashboard/render.js';

describe('dashboard header counts', () => {
  it('says "1 connection" and "2 connections"', () => {
    const header = (n: number) =>
      headerLines(
        {
          host: 'h',
          source: 'ss',
          intervalMs: 2000,
          paused: false,
          thresholds: { halfOpenMs: 1, halfCloseMs: 1, idleMs: 1, perStateMs: {} },
          sort: 'flag',
          evaluation: { views: Array(n).fill({}), countFlags: [] } as never,
        },
        120,
        plainPaint,
      )[1];
    expect(header(1)).toMatch(/^1 connection {2}flagged:/);
    expect(header(2)).toMatch(/^2 connections {2}flagged:/);
  });
});

describe('dashboard header before the first table (N6)', () => {
  const base = { host: 'h', source: 'ss', intervalMs: 2000, paused: false, thresholds: { halfOpenMs: 1, halfCloseMs: 1, idleMs: 1, perStateMs: {} }, sort: 'flag' };

  it('shows no counts while the first poll runs: zeros would read as all clear', () => {
    const text = headerLines(base, 120, plainPaint).join('\n');
    expect(text).toContain('first poll running… nothing is counted yet');
    expect(text).not.toMatch(/\d+ connections?|flagged:|half-open 0 /);
  });

  it('after a failed first poll: the failure, and still no counts', () => {
    const lines = headerLines({ ...base, failure: 'ss timed out' }, 120, plainPaint);
    expect(lines[0]!.trimEnd()).toBe('POLL FAILED: ss timed out — nothing read yet');
    expect(lines.join('\n')).toContain('no socket table read yet: nothing is counted');
    expect(lines.join('\n')).not.toMatch(/flagged:|0 connections/);
  });
});
