// Points in time that users and captures write: RFC 3339 (ISO 8601's internet profile). Pure.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

const daysInMonth = (year: number, month: number) => (month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31);

/**
 * `2026-11-21T05:29:18Z`, `2026-11-21 05:29:18.5+01:00`, `2026-11-21T05:29Z` → Unix ms; or why the
 * text is not such a time (one phrase). RFC 3339 §5.6, with seconds optional. Strict where
 * `Date.parse` guesses: a zone is required (a capture read on another host has no "local"), and a
 * day the calendar does not have (2026-02-30) is refused rather than rolled into March; a leap
 * second (:60) is refused too (the clocks that stamp captures never show one).
 */
export function parseTimestamp(text: string): number | string {
  const m = RFC3339.exec(text.trim());
  if (!m) {
    if (/^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(text.trim())) return 'no time zone (add Z for UTC, or an offset such as +01:00)';
    return 'not an RFC 3339 time such as 2026-11-21T05:30:00Z';
  }
  const [year, month, day, hour, minute, second = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((part) => (part === undefined ? undefined : Number(part))) as number[];
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth(year!, month!)) return `${m[1]}-${m[2]}-${m[3]} is not a day of the calendar`;
  if (hour! > 23 || minute! > 59 || second > 59) return `${m[4]}:${m[5]}${m[6] === undefined ? '' : `:${m[6]}`} is not a time of day`;
  const fractionMs = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  let offsetMinutes = 0;
  if (!m[8]) {
    const offsetHours = Number(m[10]);
    const offsetRest = Number(m[11]);
    if (offsetHours > 23 || offsetRest > 59) return `${m[9]}${m[10]}:${m[11]} is not a zone offset`;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetRest);
  }
  return Date.UTC(year!, month! - 1, day!, hour!, minute!, second) + fractionMs - offsetMinutes * 60_000;
}
