import { readFileSync } from 'node:fs';

/** A captured output from test/fixtures (provenance in test/fixtures/README.md). */
export function readFixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

export function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

export function readFixtureBytes(name: string): Uint8Array {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
}

/** An `ss` capture without one socket: its state line (found by local address, never a listener) and the tcp_info lines under it. */
export function ssWithoutSocket(text: string, local: string): string {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.split(/\s+/)[3] === local && !l.startsWith('LISTEN'));
  if (at < 0) throw new Error(`no socket ${local} in the capture`);
  let end = at + 1;
  while (end < lines.length && lines[end]!.startsWith('\t')) end++;
  return [...lines.slice(0, at), ...lines.slice(end)].join('\n');
}
