import { maxOf } from '../core/lists.js';
import type { LiveRecord, LiveSourceName } from '../sources/registry.js';
import type { Availability, SourceRecord } from '../sources/source-record.js';
import { sanitizeLine } from './sanitize.js';

// `tcpdwell sources` (text and JSON) and the README's sources table, from the source registry. Pure.

/** One live source as found on this machine. */
export interface SourceHere {
  record: LiveRecord;
  availability: Availability;
}

/**
 * The JSON report: one object per live source. Its first eight fields are the public shape kept
 * from the first version; `os`, `capabilities`, `vocabulary` and `inputFormat` were added.
 */
export function formatSourcesJson(entries: readonly SourceHere[], auto: LiveSourceName | undefined): string {
  const report = entries.map(({ record, availability }) => ({
    name: record.name,
    ...record.live.summary,
    available: availability.available,
    reason: availability.reason ?? null,
    auto: record.name === auto,
    os: record.live.os ?? null,
    capabilities: record.live.capabilities,
    vocabulary: record.vocabulary,
    inputFormat: (record as SourceRecord).input?.format ?? null,
  }));
  return `${JSON.stringify(report, null, 2)}\n`;
}

const HEADERS = ['SOURCE', 'HERE', 'OWNERS, ACTIVITY (IDLE), DWELL AT FIRST SIGHT'] as const;

/**
 * The text table, at most `width` columns (80 by default) as long as the words fit: what a source
 * can tell wraps in its own column, and the platform and why-not line under each source wraps too.
 */
export function formatSourcesText(entries: readonly SourceHere[], auto: LiveSourceName | undefined, width = 80): string {
  const names = entries.map(({ record }) => record.name + (record.name === auto ? ' (auto)' : ''));
  const nameWidth = maxOf(names.map(length), HEADERS[0].length);
  const hereWidth = HEADERS[1].length;
  const tellAt = nameWidth + 2 + hereWidth + 2;
  const tellWidth = Math.max(20, width - tellAt);
  const pad = (text: string, to: number) => text + ' '.repeat(Math.max(0, to - length(text)));
  const lines = hanging(HEADERS[2], tellWidth, 0).map((head, j) => (j === 0 ? `${pad(HEADERS[0], nameWidth)}  ${pad(HEADERS[1], hereWidth)}  ${head}` : `${' '.repeat(tellAt)}${head}`));
  entries.forEach(({ record, availability }, i) => {
    const { summary } = record.live;
    const tells = [`owners: ${summary.owners}`, `activity: ${summary.activity}`, `first sight: ${summary.firstSightDwell}`].flatMap((item) => hanging(sanitizeLine(item), tellWidth, 2));
    tells.forEach((tell, j) => lines.push(j === 0 ? `${pad(names[i]!, nameWidth)}  ${pad(availability.available ? 'yes' : 'no', hereWidth)}  ${tell}` : `${' '.repeat(tellAt)}${tell}`));
    const where = sanitizeLine(`${summary.platforms}${availability.reason ? `; ${availability.reason}` : ''}`);
    for (const line of hanging(where, width - 4, 2)) lines.push(`    ${line}`);
  });
  lines.push('', auto ? `--source auto uses ${auto} here.` : '--source auto finds no usable source here.');
  return `${lines.map((l) => l.trimEnd()).join('\n')}\n`;
}

/** The README's sources table (Markdown), one row per live source. */
export function formatSourcesMarkdown(records: readonly LiveRecord[]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const rows = records.map(({ live: { docs } }) => `| ${[docs.title, docs.reads, docs.pid, docs.activity, docs.firstSight].map(cell).join(' | ')} |`);
  return ['| source | reads | pid | activity / idle | first-sight dwell |', '|---|---|---|---|---|', ...rows].join('\n') + '\n';
}

/** Width in characters (code points), as the terminal shows these texts. */
function length(text: string): number {
  return [...text].length;
}

/** Words filled into lines of at most `width`; lines after the first indented by `indent`. A longer word is cut. */
export function hanging(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  const limit = () => (lines.length === 0 ? width : width - indent);
  for (let word of text.split(/ +/).filter(Boolean)) {
    while (length(word) > limit()) {
      if (line !== '') {
        lines.push(line);
        line = '';
      }
      const chars = [...word];
      const n = limit();
      lines.push(chars.slice(0, n).join(''));
      word = chars.slice(n).join('');
    }
    if (word === '') continue;
    if (line === '') line = word;
    else if (length(line) + 1 + length(word) <= limit()) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : ' '.repeat(indent) + l));
}

export const SOURCES_TABLE_BEGIN = '<!-- sources table: generated from the source registry (src/sources/registry.ts) by `npm run docs:sources` -->';
export const SOURCES_TABLE_END = '<!-- end of sources table -->';

/** The README text with its sources table (between the two markers) regenerated; throws when a marker is missing. */
export function withSourcesTable(readme: string, records: readonly LiveRecord[]): string {
  const begin = readme.indexOf(SOURCES_TABLE_BEGIN);
  const end = readme.indexOf(SOURCES_TABLE_END);
  if (begin < 0 || end < begin) throw new Error(`the README has no sources table markers (${SOURCES_TABLE_BEGIN} … ${SOURCES_TABLE_END})`);
  return `${readme.slice(0, begin + SOURCES_TABLE_BEGIN.length)}\n${formatSourcesMarkdown(records)}${readme.slice(end)}`;
}
