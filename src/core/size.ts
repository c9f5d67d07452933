// Sizes as users write them: `262144` (bytes), `512K`, `256M`, `1G`, `1.5GiB`. K, M and G are
// powers of 1024 (KiB, MiB, GiB), the unit files and memory are counted in.

const UNIT_BYTES: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export class SizeError extends Error {}

/** Parses a size to bytes (whole), or throws SizeError with a message that says what is accepted. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?|(b))?$/i.exec(text.trim());
  if (!match) throw new SizeError(`invalid size "${text}": use bytes (262144) or K, M, G (512K, 256M, 1G; powers of 1024)`);
  const [, amount = '0', unit = '', bytes = ''] = match;
  return Math.floor(Number(amount) * UNIT_BYTES[(unit || bytes).toLowerCase()]!);
}
