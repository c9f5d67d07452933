import { normalizeAddress } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketRow } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { UnusableInputError } from '../unusable-input.js';
import { splitCsv } from '../csv.js';

// Get-NetTCPConnection (MSFT_NetTCPConnection) as ConvertTo-Json or Export-Csv writes it. State is
// the locale-free enum (JSON: a number; CSV and -EnumsAsStrings: its name, "Established").
// CreationTime: Windows PowerShell 5.1 writes "\/Date(1605600000000)\/", PowerShell 7 an ISO
// date with offset; Export-Csv writes the culture's own format ("11/17/2020 9:00:00 AM").

export interface GetNetTcpConnectionOptions {
  /** When the table was read, to turn CreationTime into an age. */
  takenAtMs: number;
}

export interface GetNetTcpConnectionResult extends ParseResult<SocketRow> {
  /** Rows whose CreationTime was present but in a form not understood. */
  unreadableCreationTimes: number;
}

type Record_ = Record<string, unknown>;

export function parseGetNetTcpConnection(text: string, options: GetNetTcpConnectionOptions): GetNetTcpConnectionResult {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') return { rows: [], problems: [], unreadableCreationTimes: 0 };
  const records = trimmed.startsWith('[') || trimmed.startsWith('{') ? jsonRecords(trimmed) : csvRecords(trimmed);
  const rows: SocketRow[] = [];
  const problems: ParseProblem[] = [];
  let unreadableCreationTimes = 0;
  for (const { line, record } of records) {
    const result = toRow(record, options.takenAtMs);
    if (typeof result === 'string') {
      problems.push({ line, message: result });
      continue;
    }
    if (result.creationUnreadable) unreadableCreationTimes++;
    rows.push(result.row);
  }
  return { rows, problems, unreadableCreationTimes };
}

function jsonRecords(text: string): { line: number; record: Record_ }[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UnusableInputError(`Get-NetTCPConnection JSON is not valid JSON (${(error as Error).message})`);
  }
  // PowerShell 5.1 may wrap an array as { "value": [...], "Count": n }.
  if (value && typeof value === 'object' && !Array.isArray(value) && Array.isArray((value as Record_).value)) value = (value as Record_).value;
  const list = Array.isArray(value) ? value : [value];
  return list.map((record, index) => ({ line: index + 1, record: (record && typeof record === 'object' ? record : {}) as Record_ }));
}

function csvRecords(text: string): { line: number; record: Record_ }[] {
  const records = splitCsv(text).filter(({ fields }) => !(fields.length === 1 && fields[0]!.startsWith('#TYPE')));
  const header = records[0];
  if (!header || !header.fields.includes('LocalAddress')) throw new UnusableInputError('Get-NetTCPConnection CSV has no LocalAddress column');
  return records.slice(1).map(({ line, fields }) => ({ line, record: Object.fromEntries(header.fields.map((name, i) => [name, fields[i]])) }));
}

function toRow(record: Record_, takenAtMs: number): { row: SocketRow; creationUnreadable: boolean } | string {
  const localAddress = record.LocalAddress;
  const remoteAddress = record.RemoteAddress;
  const localPort = Number(record.LocalPort);
  const remotePort = Number(record.RemotePort);
  if (typeof localAddress !== 'string' || typeof remoteAddress !== 'string' || localAddress === '' || remoteAddress === '') return 'missing LocalAddress or RemoteAddress';
  if (!isPort(localPort) || !isPort(remotePort)) return `bad port "${String(record.LocalPort)}" / "${String(record.RemotePort)}"`;
  if (record.State === undefined || record.State === null || record.State === '') return 'missing State';
  const mapped = mapState('mib', String(record.State));
  const local = normalizeAddress(localAddress);
  const row: SocketRow = {
    protocol: local.includes(':') ? 'tcp6' : 'tcp',
    local: { address: local, port: localPort },
    remote: { address: normalizeAddress(remoteAddress), port: remotePort },
    state: mapped.state,
    rawState: mapped.rawState,
  };
  const pid = Number(record.OwningProcess);
  if (record.OwningProcess !== undefined && record.OwningProcess !== '' && Number.isInteger(pid) && pid >= 0) row.pid = pid;
  let creationUnreadable = false;
  if (record.CreationTime !== undefined && record.CreationTime !== null && record.CreationTime !== '') {
    const createdMs = parsePowerShellDate(record.CreationTime);
    if (createdMs === undefined) creationUnreadable = true;
    else row.createdAgoMs = Math.max(0, takenAtMs - createdMs);
  }
  return { row, creationUnreadable };
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 65535;
}

/**
 * "/Date(1605600000000)/" (5.1; the offset suffix does not change the instant), an ISO-8601 date,
 * an object with a `value` (5.1 for a bare DateTime), or the en-US / de-DE culture formats of
 * Export-Csv, read as this machine's local time.
 */
export function parsePowerShellDate(value: unknown): number | undefined {
  if (value && typeof value === 'object' && 'value' in value) return parsePowerShellDate((value as Record_).value);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const msDate = /^\\?\/Date\((-?\d+)(?:[+-]\d{4})?\)\\?\/$/.exec(text);
  if (msDate) return Number(msDate[1]);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text)) {
    const ms = Date.parse(text);
    return Number.isFinite(ms) ? ms : undefined;
  }
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?: ?([AP]M))?$/i.exec(text);
  if (us) {
    let hour = Number(us[4]) % (us[7] ? 12 : 24);
    if (us[7]?.toUpperCase() === 'PM') hour += 12;
    return new Date(Number(us[3]), Number(us[1]) - 1, Number(us[2]), hour, Number(us[5]), Number(us[6])).getTime();
  }
  const de = /^(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2}):(\d{2}):(\d{2})$/.exec(text);
  if (de) return new Date(Number(de[3]), Number(de[2]) - 1, Number(de[1]), Number(de[4]), Number(de[5]), Number(de[6])).getTime();
  return undefined;
}
