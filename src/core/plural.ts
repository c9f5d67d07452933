// Counts in text: `1 connection`, `2 connections`. Pure.

/**
 * `n` and the noun in agreement with it: the plural form given, or the noun + "s" ("es" after s, x,
 * ch, sh: `2 source addresses`). Only 1 takes the singular (`0 rows`, `1 row`).
 */
export function plural(n: number, singular: string, pluralForm?: string): string {
  return `${n} ${n === 1 ? singular : (pluralForm ?? (/(s|x|ch|sh)$/.test(singular) ? `${singular}es` : `${singular}s`))}`;
}
