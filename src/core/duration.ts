// Durations as users write them: `45` (seconds), `30s`, `10m`, `1h30m`, `2d`, `500ms`,
// and the Cisco ASA form `0:10:00` / `10:00` (h:mm:ss, mm:ss).

import { nearestWord } from './suggest.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export class DurationError extends Error {}

/**
 * The longest wait a timer can take: 2^31 - 1 ms (24.8 days). setTimeout, setInterval and
 * AbortSignal.timeout store the delay as a signed 32-bit count of ms; a longer one fires after
 * 1 ms (Node prints TimeoutOverflowWarning), so `--interval 25d` became a 1 ms poll loop.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Parses a duration that a timer will wait for: more than 0 and at most MAX_TIMER_MS, else DurationError. */
export function parseTimerDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0) throw new DurationError(`invalid duration "${text}": must be more than 0`);
  if (ms > MAX_TIMER_MS) throw new DurationError(`duration "${text}" is too long: a wait can be at most 24 days (${MAX_TIMER_MS} ms)`);
  return ms;
}

/**
 * A threshold: a duration in milliseconds, or `off` in any case (Infinity: never flag), as the
 * command line and the config file take it. DurationError as parseDuration, naming `off` when the
 * text is one edit from it (`of`, `offf`).
 */
export function parseThreshold(text: string): number {
  const word = text.trim();
  if (word.toLowerCase() === 'off') return Infinity;
  try {
    return parseDuration(text);
  } catch (error) {
    if (error instanceof DurationError && nearestWord(word, ['off']) !== undefined) {
      throw new DurationError(`invalid duration "${text}" (did you mean off?)`, { cause: error });
    }
    throw error;
  }
}

/** Parses a duration to milliseconds, or throws DurationError with a message that says what is accepted. */
export function parseDuration(text: string): number {
  const input = text.trim();
  const fail = (): never => {
    throw new DurationError(`invalid duration "${text}": use seconds (45) or units (30s, 10m, 1h30m, 2d) or h:mm:ss (0:10:00)`);
  };
  if (input === '') fail();
  if (/^\d+(\.\d+)?$/.test(input)) return Math.round(Number(input) * 1000);
  const clock = /^(?:(\d+):)?(\d{1,2}):(\d{2})$/.exec(input);
  if (clock) {
    const [, h = '0', m = '0', s = '0'] = clock;
    if (Number(s) > 59 || (clock[1] !== undefined && Number(m) > 59)) fail();
    return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000;
  }
  const unitPattern = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  const seen = new Set<string>();
  for (let match = unitPattern.exec(input); match; match = unitPattern.exec(input)) {
    const [whole, amount = '0', unit = 's'] = match;
    if (seen.has(unit)) fail();
    seen.add(unit);
    total += Number(amount) * (UNIT_MS[unit] ?? 0);
    consumed += whole.length;
  }
  if (consumed !== input.length) fail();
  return Math.round(total);
}

/** A threshold as parseThreshold reads it: `off` for Infinity (never flag), else formatDuration. */
export function formatThreshold(ms: number): string {
  return ms === Infinity ? 'off' : formatDuration(ms);
}

/** Compact human form: 0.4s, 45s, 12m05s, 3h02m, 2d04h. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const totalSeconds = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (totalSeconds < 60) return `${totalSeconds}s`;
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `${minutes}m${pad(totalSeconds % 60)}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${pad(minutes % 60)}m`;
  return `${Math.floor(hours / 24)}d${pad(hours % 24)}h`;
}
