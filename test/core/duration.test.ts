import { describe, expect, it } from 'vitest';
import { DurationError, MAX_TIMER_MS, formatDuration, formatThreshold, parseDuration, parseThreshold, parseTimerDuration } from '../../src/core/duration.js';

describe('durations', () => {
  it.each([
    ['45', 45_000],
    ['30s', 30_000],
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['0:10:00', 600_000],
    ['1:00:00', 3_600_000],
    ['10:00', 600_000],
    [' 30s ', 30_000],
  ])('parses %j', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'abc', '10x', '-5', '1h1h', '30s10', '0:70:00', 's', '1:2:3:4'])('rejects %j with a message that lists the forms', (text) => {
    expect(() => parseDuration(text)).toThrow(DurationError);
    expect(() => parseDuration(text)).toThrow(/use seconds \(45\)/);
  });

  it('formats compactly', () => {
    expect([400, 45_000, 725_000, 10_920_000, 187_200_000].map(formatDuration)).toEqual(['0.4s', '45s', '12m05s', '3h02m', '2d04h']);
    expect(formatDuration(-1)).toBe('-');
  });

  it('parseTimerDuration keeps a wait within what setTimeout can hold (2^31 - 1 ms)', () => {
    expect(parseTimerDuration('24d')).toBe(24 * 86_400_000);
    expect(parseTimerDuration(`${MAX_TIMER_MS}ms`)).toBe(2_147_483_647);
    expect(() => parseTimerDuration(`${MAX_TIMER_MS + 1}ms`)).toThrow(/too long: a wait can be at most 24 days/);
    expect(() => parseTimerDuration('25d')).toThrow(DurationError);
    expect(() => parseTimerDuration('0s')).toThrow(/must be more than 0/);
  });
});

describe('thresholds', () => {
  it('reads off in any case as Infinity, anything else as a duration', () => {
    for (const word of ['off', 'OFF', 'Off', ' oFf ']) expect(parseThreshold(word)).toBe(Infinity);
    expect(parseThreshold('90s')).toBe(90_000);
  });

  it('names off for a near miss, and only then', () => {
    expect(() => parseThreshold('of')).toThrow(new DurationError('invalid duration "of" (did you mean off?)'));
    expect(() => parseThreshold('oof')).toThrow(/did you mean off\?/);
    expect(() => parseThreshold('on')).toThrow(/^invalid duration "on": use seconds/);
  });

  it('formatThreshold writes what parseThreshold reads back: off, or the duration', () => {
    expect(formatThreshold(Infinity)).toBe('off');
    expect(formatThreshold(90_000)).toBe('1m30s');
    for (const text of ['off', '1m30s', '2d04h']) expect(formatThreshold(parseThreshold(text))).toBe(text);
  });
});
