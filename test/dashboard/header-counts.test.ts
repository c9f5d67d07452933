import { describe, expect, it } from 'vitest';
import { headerLines, plainPaint } from '../../src/dashboard/render.js';

describe('dashboard header counts', () => {
  it('says "1 connection" and "2 connections"', () => {
    const header = (n: number) =>
      headerLines(
        { host: 'h', source: 'ss', intervalMs: 2000, paused: false, thresholds: { halfOpenMs: 1, halfCloseMs: 1, idleMs: 1, perStateMs: {} }, sort: 'flag', evaluation: { views: Array(n).fill({}), countFlags: [] } as never },
        120,
        plainPaint,
      )[1];
    expect(header(1)).toMatch(/^1 connection {2}flagged:/);
    expect(header(2)).toMatch(/^2 connections {2}flagged:/);
  });
});
