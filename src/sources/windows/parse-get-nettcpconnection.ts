import { isAddressStart, parseAddressText } from '../../core/address.js';
import { connectionKey, type ParseProblem, type ParseResult, type SocketRow } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { UnusableInputError } from '../unusable-input.js';
import { splitCsv } from '../csv.js';
import { plural } from '../../core/plural.js';

// Get-NetTCPConnection (MSFT_NetTCPConnection) in the four shapes people send:
// - ConvertTo-Json: State the enum number, CreationTime "\/Date(ms)\/" (5.1) or ISO with offset (7);
// - Export-Csv: a `#TYPE` line, a header row naming the properties, State its enum name;
// - the default table view: `LocalAddress LocalPort RemoteAddress RemotePort State AppliedSetting
//   OwningProcess` over a line of dashes, each column as wide as PowerShell chose; a value too wide
//   for its column is cut and ends in `...` (5.1) or `…` (7); a narrow console drops or wraps columns;
// - Format-List: `Name : value` records separated by blank lines.
// The table and list views print State by its enum name and CreationTime in the session's
// culture (`11/20/2026 9:58:25 AM`, `20.11.2026 09:58:25`, `2020-08-28 오후 12:52:04`).

export interface GetNetTcpConnectionOptions {
  /** When the table was read, to turn CreationTime into an age. */
  takenAtMs: number;
}

export type GetNetTcpConnectionShape = 'json' | 'csv' | 'table' | 'list';

export interface GetNetTcpConnectionResult extends ParseResult<SocketRow> {
  shape: GetNetTcpConnectionShape;
  /** Rows whose CreationTime was present but in a form not read without guessing (dropped). */
  unreadableCreationTimes: number;
  /** Rows with an address the table view cut (ending in `...` or `…`), kept as printed. */
  cutAddresses: number;
  /** Of those, rows printing exactly like an earlier row (counted as one connection). */
  mergedRows: number;
}

type Record_ = Record<string, unknown>;
interface NumberedRecord {
  line: number;
  record: Record_;
}

const TABLE_HEADER = /^\s*LocalAddress\s+LocalPort\b/;
const DASHES = /^\s*-+(\s+-+)*\s*$/;
const LIST_ENTRY = /^\s*([A-Za-z]\w*)\s*:(?:\s(.*))?$/;
const CSV_HEADER = /^"?[A-Za-z]\w*"?([,;\t]"?[A-Za-z]\w*"?)+$/;
const CUT = /(\.\.\.|…)$/;
// PowerShell 7 may colour the table header when its output was captured from a terminal.
const ANSI = /\x1b\[[0-9;]*m/g;

/** True when the text holds Get-NetTCPConnection output in one of the four shapes (for format detection). */
export function looksLikeGetNetTcpConnection(text: string): boolean {
  return shapeOf(text.replace(/^\uFEFF/, '').trimStart()) !== undefined;
}

/**
 * Parses any of the four shapes into rows; a bad record is a problem, never a guess.
 * @throws UnusableInputError when the text is none of them, or JSON that does not parse.
 */
export function parseGetNetTcpConnection(text: string, options: GetNetTcpConnectionOptions): GetNetTcpConnectionResult {
  const body = text.replace(/^\uFEFF/, '');
  const trimmed = body.trim();
  const empty = { rows: [], problems: [], unreadableCreationTimes: 0, cutAddresses: 0, mergedRows: 0 };
  if (trimmed === '') return { shape: 'json', ...empty };
  const shape = shapeOf(trimmed);
  if (!shape) {
    throw new UnusableInputError(
      'no Get-NetTCPConnection output: expected ConvertTo-Json, Export-Csv (a header row naming LocalAddress), the table view (LocalAddress LocalPort … over a line of dashes) or Format-List records (LocalAddress : …)',
    );
  }
  // Not trimmed: the table's columns are found by position, its first line's indentation included.
  const lines = () => body.replace(ANSI, '').split(/\r?\n/);
  const records = shape === 'json' ? jsonRecords(trimmed) : shape === 'csv' ? csvRecords(trimmed) : shape === 'table' ? tableRecords(lines()) : listRecords(lines());
  const rows: SocketRow[] = [];
  const problems: ParseProblem[] = [...records.problems];
  const slashOrder = slashDateOrder(records.records.map((r) => r.record.CreationTime));
  let unreadableCreationTimes = 0;
  let cutAddresses = 0;
  let mergedRows = 0;
  const cutKeys = new Set<string>();
  for (const { line, record } of records.records) {
    const result = toRow(record, options.takenAtMs, slashOrder);
    if (typeof result === 'string') {
      problems.push({ line, message: result });
      continue;
    }
    if (result.creationUnreadable) unreadableCreationTimes++;
    if (CUT.test(result.row.local.address) || CUT.test(result.row.remote.address)) {
      cutAddresses++;
      const key = connectionKey(result.row);
      if (cutKeys.has(key)) mergedRows++;
      else cutKeys.add(key);
    }
    rows.push(result.row);
  }
  problems.sort((a, b) => a.line - b.line);
  if (rows.length === 0 && problems.length > 0) throw new UnusableInputError(`no usable record in the ${SHAPE_NAMES[shape]} (line ${problems[0]!.line}: ${problems[0]!.message})`);
  return { shape, rows, problems, unreadableCreationTimes, cutAddresses, mergedRows };
}

/** One-line notices for a capture's label: dropped creation times, cut addresses. */
export function getNetTcpConnectionNotices(result: GetNetTcpConnectionResult, label: string): string[] {
  const notices: string[] = [];
  if (result.unreadableCreationTimes > 0) {
    notices.push(
      `${label}: ${plural(result.unreadableCreationTimes, 'CreationTime value')} ${result.unreadableCreationTimes === 1 ? 'was' : 'were'} dropped: their date form cannot be read without guessing (a culture's own format, or day and month that cannot be told apart); ConvertTo-Json writes an unambiguous one`,
    );
  }
  if (result.cutAddresses > 0) {
    const merged =
      result.mergedRows > 0
        ? `${plural(result.mergedRows, 'row')} ${result.mergedRows === 1 ? 'prints exactly like an earlier one and is' : 'print exactly like an earlier one and are'} counted with it`
        : 'connections whose cut addresses print alike would count as one';
    notices.push(
      `${label}: ${plural(result.cutAddresses, 'row')} ${result.cutAddresses === 1 ? 'has' : 'have'} addresses the table view cut (ending in "..."), kept as printed; ${merged}; ConvertTo-Json or Format-List gives whole addresses`,
    );
  }
  return notices;
}

const SHAPE_NAMES: Record<GetNetTcpConnectionShape, string> = { json: 'JSON', csv: 'CSV', table: 'table view', list: 'Format-List records' };

function shapeOf(text: string): GetNetTcpConnectionShape | undefined {
  if (text.startsWith('[') || text.startsWith('{')) return 'json';
  // The first megabyte is plenty (5,000 lines are looked at) and keeps this cheap on big files.
  const lines = text
    .slice(0, 1 << 20)
    .replace(ANSI, '')
    .split(/\r?\n/, 5000);
  const first = lines.find((l) => !l.startsWith('#TYPE') && l.trim() !== '')?.trim() ?? '';
  if (CSV_HEADER.test(first) && /(^|[,;\t])"?LocalAddress"?([,;\t]|$)/.test(first)) return 'csv';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    // The dashes follow the header, or its second line when a narrow console wrapped it.
    if (TABLE_HEADER.test(line) && (DASHES.test(lines[i + 1] ?? '') || DASHES.test(lines[i + 2] ?? ''))) return 'table';
    if (LIST_ENTRY.exec(line)?.[1] === 'LocalAddress') return 'list';
  }
  return undefined;
}

interface Records {
  records: NumberedRecord[];
  problems: ParseProblem[];
}

function jsonRecords(text: string): Records {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UnusableInputError(`Get-NetTCPConnection JSON is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  // PowerShell 5.1 may wrap an array as { "value": [...], "Count": n }.
  if (value && typeof value === 'object' && !Array.isArray(value) && Array.isArray((value as Record_).value)) value = (value as Record_).value;
  const list = Array.isArray(value) ? value : [value];
  return { records: list.map((record, index) => ({ line: index + 1, record: (record && typeof record === 'object' ? record : {}) as Record_ })), problems: [] };
}

function csvRecords(text: string): Records {
  const headerLine = text.split(/\r?\n/).find((l) => !l.startsWith('#TYPE') && l.trim() !== '')!;
  // Export-Csv -UseCulture lists with the culture's separator (`;` in de-DE); the header shows which.
  const delimiter = /^"?[A-Za-z]\w*"?([,;\t])/.exec(headerLine.trim())?.[1] ?? ',';
  const records = splitCsv(text, delimiter).filter(({ fields }) => !(fields.length === 1 && fields[0]!.startsWith('#TYPE')));
  const header = records[0]!;
  return { records: records.slice(1).map(({ line, fields }) => ({ line, record: Object.fromEntries(header.fields.map((name, i) => [name, fields[i]])) })), problems: [] };
}

/**
 * The table view: columns start where the runs of dashes start (PowerShell left-aligns this view's
 * columns and puts one space between them); a header wrapped by a narrow console is joined. A row
 * with text across a column start does not line up with the header and is a problem.
 */
function tableRecords(lines: readonly string[]): Records {
  const records: NumberedRecord[] = [];
  const problems: ParseProblem[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!DASHES.test(lines[i]!)) continue;
    const headerAt = [i - 1, i - 2].find((h) => h >= 0 && TABLE_HEADER.test(lines[h]!));
    if (headerAt === undefined) continue;
    const starts = [...lines[i]!.matchAll(/-+/g)].map((m) => m.index);
    const cell = (line: string, k: number) => line.slice(starts[k], starts[k + 1] ?? line.length).trim();
    const names = starts.map((_, k) =>
      lines
        .slice(headerAt, i)
        .map((h) => cell(h, k))
        .join(''),
    );
    let r = i + 1;
    for (; r < lines.length && lines[r]!.trim() !== '' && !TABLE_HEADER.test(lines[r]!); r++) {
      const line = lines[r]!;
      if (line.slice(0, starts[0]).trim() !== '' || starts.slice(1).some((s) => s < line.length && line[s] !== ' ' && line[s - 1] !== ' ')) {
        problems.push({ line: r + 1, message: "row does not line up with the table's columns" });
        continue;
      }
      records.push({ line: r + 1, record: Object.fromEntries(names.map((name, k) => [name, cell(line, k)])) });
    }
    i = r - 1;
  }
  return { records, problems };
}

/** Format-List: `Name : value` lines; a blank line ends a record; records without LocalAddress (prompts, other objects) are passed over. */
function listRecords(lines: readonly string[]): Records {
  const records: NumberedRecord[] = [];
  let current: NumberedRecord | undefined;
  const finish = () => {
    if (current && 'LocalAddress' in current.record) records.push(current);
    current = undefined;
  };
  lines.forEach((line, index) => {
    if (line.trim() === '') return finish();
    const entry = LIST_ENTRY.exec(line);
    if (!entry) return; // a long value wrapped onto the next line, or a prompt
    if (current && entry[1]! in current.record) finish(); // records pasted without the blank line between them
    current ??= { line: index + 1, record: {} };
    current.record[entry[1]!] = (entry[2] ?? '').trim();
  });
  finish();
  return { records, problems: [] };
}

/** An address, normalised; one the table view cut (`fe80::1ff:fe23:4567:…`) as printed; else undefined. */
function addressOf(text: string): string | undefined {
  return parseAddressText(text) ?? (CUT.test(text) && isAddressStart(text.replace(CUT, '')) ? text : undefined);
}

function toRow(record: Record_, takenAtMs: number, slashOrder: SlashOrder | undefined): { row: SocketRow; creationUnreadable: boolean } | string {
  const localAddress = record.LocalAddress;
  const remoteAddress = record.RemoteAddress;
  const localPort = Number(record.LocalPort);
  const remotePort = Number(record.RemotePort);
  if (typeof localAddress !== 'string' || typeof remoteAddress !== 'string' || localAddress === '' || remoteAddress === '') return 'missing LocalAddress or RemoteAddress';
  if (/\s/.test(localAddress) || /\s/.test(remoteAddress)) return `bad address "${/\s/.test(localAddress) ? localAddress : remoteAddress}"`;
  if (record.LocalPort === '' || record.RemotePort === '' || !isPort(localPort) || !isPort(remotePort)) return `bad port "${String(record.LocalPort)}" / "${String(record.RemotePort)}"`;
  if (record.State === undefined || record.State === null || record.State === '') return 'missing State';
  const local = addressOf(localAddress);
  const remote = addressOf(remoteAddress);
  if (local === undefined || remote === undefined) return `bad address "${local === undefined ? localAddress : remoteAddress}"`;
  const mapped = mapState('mib', String(record.State));
  const row: SocketRow = {
    protocol: local.includes(':') ? 'tcp6' : 'tcp',
    local: { address: local, port: localPort },
    remote: { address: remote, port: remotePort },
    state: mapped.state,
    rawState: mapped.rawState,
  };
  const pid = Number(record.OwningProcess);
  if (record.OwningProcess !== undefined && record.OwningProcess !== null && record.OwningProcess !== '' && Number.isInteger(pid) && pid >= 0) row.pid = pid;
  let creationUnreadable = false;
  if (record.CreationTime !== undefined && record.CreationTime !== null && record.CreationTime !== '') {
    const createdMs = parsePowerShellDate(record.CreationTime, slashOrder);
    if (createdMs === undefined) creationUnreadable = true;
    else row.createdAgoMs = Math.max(0, takenAtMs - createdMs);
  }
  return { row, creationUnreadable };
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 65535;
}

/** Which number comes first in a `1/2/2026` date: en-US writes the month, en-GB and en-AU the day. */
export type SlashOrder = 'month-first' | 'day-first';

const SLASH_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?: ?([AP]M))?$/i;

/**
 * The order every slash date of one capture shares (one capture, one culture), when some date
 * proves it (a first number above 12 is a day, a second above 12 is a day); undefined when none
 * does or they disagree.
 */
export function slashDateOrder(values: readonly unknown[]): SlashOrder | undefined {
  let dayFirst = false;
  let monthFirst = false;
  for (const value of values) {
    const m = typeof value === 'string' ? SLASH_DATE.exec(value.trim()) : null;
    if (!m) continue;
    if (Number(m[1]) > 12) dayFirst = true;
    if (Number(m[2]) > 12) monthFirst = true;
  }
  return dayFirst === monthFirst ? undefined : dayFirst ? 'day-first' : 'month-first';
}

/**
 * "/Date(1605600000000)/" (5.1; the offset suffix does not change the instant), an ISO-8601 date,
 * an object with a `value` (5.1 for a bare DateTime), or a culture's display form read as this
 * machine's local time: `d.M.yyyy H:mm:ss` (de-DE and others), `yyyy-MM-dd H:mm:ss`,
 * `yyyy/M/d H:mm:ss`, and `M/d/yyyy h:mm:ss AM` or `d/M/yyyy …` in the order `slashOrder` gives or
 * the date itself proves. Anything else, an impossible date, or a slash date whose order is not
 * known gives undefined: never a guess.
 */
export function parsePowerShellDate(value: unknown, slashOrder?: SlashOrder): number | undefined {
  if (value && typeof value === 'object' && 'value' in value) return parsePowerShellDate((value as Record_).value, slashOrder);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const msDate = /^\\?\/Date\((-?\d+)(?:[+-]\d{4})?\)\\?\/$/.exec(text);
  if (msDate) return Number(msDate[1]);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text)) {
    const ms = Date.parse(text);
    return Number.isFinite(ms) ? ms : undefined;
  }
  const slash = SLASH_DATE.exec(text);
  if (slash) {
    const order = slashOrder ?? slashDateOrder([text]);
    if (!order) return undefined;
    const [first, second] = [Number(slash[1]), Number(slash[2])];
    const [month, day] = order === 'month-first' ? [first, second] : [second, first];
    return localTime(Number(slash[3]), month, day, hour12(Number(slash[4]), slash[7]), Number(slash[5]), Number(slash[6]));
  }
  const dotted = /^(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2}):(\d{2}):(\d{2})$/.exec(text);
  if (dotted) return localTime(Number(dotted[3]), Number(dotted[2]), Number(dotted[1]), Number(dotted[4]), Number(dotted[5]), Number(dotted[6]));
  const yearFirst = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})$/.exec(text);
  if (yearFirst) return localTime(Number(yearFirst[1]), Number(yearFirst[2]), Number(yearFirst[3]), Number(yearFirst[4]), Number(yearFirst[5]), Number(yearFirst[6]));
  return undefined;
}

/** 24-hour value of `h` with an optional AM/PM; NaN when `h` cannot be a 12-hour clock hour. */
function hour12(hour: number, meridiem: string | undefined): number {
  if (!meridiem) return hour;
  if (hour < 1 || hour > 12) return NaN;
  return (hour % 12) + (meridiem.toUpperCase() === 'PM' ? 12 : 0);
}

/** Local time in ms, or undefined for a date that does not exist (month 13, 31 November, hour 25). */
function localTime(year: number, month: number, day: number, hour: number, minute: number, second: number): number | undefined {
  if (!(hour >= 0 && hour <= 23 && minute <= 59 && second <= 59)) return undefined;
  const date = new Date(year, month - 1, day, hour, minute, second);
  return date.getFullYear() === year && date.getMonth() === month - 1 && date.getDate() === day ? date.getTime() : undefined;
}
