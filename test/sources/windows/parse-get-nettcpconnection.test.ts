import { describe, expect, it } from 'vitest';
import { TcpState } from '../../../src/core/tcp-state.js';
import { decodeText } from '../../../src/sources/decode-text.js';
import { detectInputFormat } from '../../../src/sources/captured-table.js';
import { getNetTcpConnectionNotices, parseGetNetTcpConnection, parsePowerShellDate, slashDateOrder } from '../../../src/sources/windows/parse-get-nettcpconnection.js';
import { parseTasklist } from '../../../src/sources/windows/parse-tasklist.js';
import { UnusableInputError } from '../../../src/sources/unusable-input.js';
import { countBy, readFixtureBytes } from '../../fixture.js';

const TAKEN_AT = Date.parse('2026-11-20T10:00:00Z');
// The nine sessions of every constructed fixture (README), counted by hand.
const COUNTS = { LISTEN: 2, SYN_SENT: 2, ESTABLISHED: 2, CLOSE_WAIT: 1, TIME_WAIT: 1, FIN_WAIT_2: 1 };

function parse(name: string) {
  return parseGetNetTcpConnection(decodeText(readFixtureBytes(name)).text, { takenAtMs: TAKEN_AT });
}

describe('parseGetNetTcpConnection', () => {
  it('Windows PowerShell 5.1 JSON: numeric states, \\/Date()\\/ creation times give the true age', () => {
    const { rows, problems, unreadableCreationTimes } = parse('powershell51-get-nettcpconnection-constructed.json');
    expect(problems).toEqual([]);
    expect(unreadableCreationTimes).toBe(0);
    expect(countBy(rows, (r) => r.state)).toEqual(COUNTS);
    const synSent = rows.filter((r) => r.state === TcpState.SYN_SENT);
    expect(synSent.map((r) => [r.local.port, r.remote.address, r.createdAgoMs, r.pid])).toEqual([
      [51234, '10.20.30.40', 95_000, 5120],
      [51235, '10.20.30.40', 12_000, 5120],
    ]);
    expect(rows[1]).toMatchObject({ protocol: 'tcp6', local: { address: '::', port: 445 }, rawState: '2' });
    expect(rows[6]).toMatchObject({ protocol: 'tcp6', local: { address: 'fe80::1c2d:3e4f:5a6b:7c8d' } });
  });

  it('PowerShell 7 JSON: ISO dates with offset and 100-ns digits give the same ages, less the fraction', () => {
    const ps7 = parse('powershell7-get-nettcpconnection-constructed.json').rows;
    const ps51 = parse('powershell51-get-nettcpconnection-constructed.json').rows;
    // The PS7 file's times carry .1234567 s: each connection is 123 ms younger.
    expect(ps7.map((r) => [r.state, r.createdAgoMs])).toEqual(ps51.map((r) => [r.state, r.createdAgoMs! - 123]));
  });

  it('5.1 Export-Csv redirected with > (UTF-16LE, #TYPE line, enum names, en-US local dates)', () => {
    const bytes = readFixtureBytes('powershell51-get-nettcpconnection-constructed-utf16.csv');
    const decoded = decodeText(bytes);
    expect(decoded.encoding).toBe('utf-16le');
    const { rows, problems } = parseGetNetTcpConnection(decoded.text, { takenAtMs: TAKEN_AT });
    expect(problems).toEqual([]);
    expect(countBy(rows, (r) => r.state)).toEqual(COUNTS);
    // "11/20/2026 9:58:25 AM" is local time of the capturing machine.
    expect(rows[2]).toMatchObject({ rawState: 'SynSent', pid: 5120, createdAgoMs: TAKEN_AT - new Date(2026, 10, 20, 9, 58, 25).getTime() });
  });

  it('a single object (one connection) and an empty answer', () => {
    const one = parseGetNetTcpConnection('{"LocalAddress":"10.0.0.1","LocalPort":5,"RemoteAddress":"10.0.0.2","RemotePort":80,"State":8,"OwningProcess":9}', { takenAtMs: TAKEN_AT });
    expect(one.rows).toEqual([{ protocol: 'tcp', local: { address: '10.0.0.1', port: 5 }, remote: { address: '10.0.0.2', port: 80 }, state: TcpState.CLOSE_WAIT, rawState: '8', pid: 9 }]);
    expect(parseGetNetTcpConnection('\r\n', { takenAtMs: TAKEN_AT }).rows).toEqual([]);
  });

  it('bad records are problems, good ones stay; cut-off JSON is unusable', () => {
    const text = JSON.stringify([
      { LocalAddress: '10.0.0.1', LocalPort: 5, RemoteAddress: '10.0.0.2', RemotePort: 80, State: 5 },
      { LocalAddress: '10.0.0.1', LocalPort: 99999, RemoteAddress: '10.0.0.2', RemotePort: 80, State: 5 },
      { LocalAddress: '10.0.0.1', LocalPort: 6, RemoteAddress: '10.0.0.2', RemotePort: 80 },
      { LocalAddress: '10.0.0.1', LocalPort: 7, RemoteAddress: '10.0.0.2', RemotePort: 80, State: 3, CreationTime: 'tomorrow' },
    ]);
    const { rows, problems, unreadableCreationTimes } = parseGetNetTcpConnection(text, { takenAtMs: TAKEN_AT });
    expect(rows.map((r) => r.local.port)).toEqual([5, 7]);
    expect(problems.map((p) => p.line)).toEqual([2, 3]);
    expect(unreadableCreationTimes).toBe(1);
    expect(() => parseGetNetTcpConnection(text.slice(0, 60), { takenAtMs: TAKEN_AT })).toThrow(UnusableInputError);
  });

  it('Export-Csv with -UseCulture (de-DE: `;`) and every property (LocalAddress not first)', () => {
    // Written for this test in the shape of 5.1 `Get-NetTCPConnection | Export-Csv -UseCulture` on a German system.
    const text = [
      '#TYPE Microsoft.Management.Infrastructure.CimInstance#ROOT/StandardCimv2/MSFT_NetTCPConnection',
      '"State";"AppliedSetting";"OwningProcess";"CreationTime";"LocalAddress";"LocalPort";"RemoteAddress";"RemotePort"',
      '"CloseWait";"Internet";"7744";"20.11.2026 09:58:25";"192.0.2.8";"50123";"203.0.113.5";"443"',
    ].join('\r\n');
    const { rows, shape } = parseGetNetTcpConnection(text, { takenAtMs: TAKEN_AT });
    expect(shape).toBe('csv');
    expect(rows).toEqual([
      {
        protocol: 'tcp',
        local: { address: '192.0.2.8', port: 50123 },
        remote: { address: '203.0.113.5', port: 443 },
        state: TcpState.CLOSE_WAIT,
        rawState: 'CloseWait',
        pid: 7744,
        createdAgoMs: TAKEN_AT - new Date(2026, 10, 20, 9, 58, 25).getTime(),
      },
    ]);
    expect(detectInputFormat(text)).toBe('powershell');
  });

  it('date forms', () => {
    expect(parsePowerShellDate('\\/Date(1605600000000)\\/')).toBe(1605600000000);
    expect(parsePowerShellDate('/Date(1605600000000+0100)/')).toBe(1605600000000);
    expect(parsePowerShellDate({ value: '/Date(1605600000000)/', DateTime: 'Tuesday…' })).toBe(1605600000000);
    expect(parsePowerShellDate('2020-11-17T09:00:00.1234567+01:00')).toBe(Date.parse('2020-11-17T08:00:00.123Z'));
    expect(parsePowerShellDate('17.11.2020 09:00:00')).toBe(new Date(2020, 10, 17, 9, 0, 0).getTime());
    expect(parsePowerShellDate('11/17/2020 12:30:00 AM')).toBe(new Date(2020, 10, 17, 0, 30, 0).getTime());
    expect(parsePowerShellDate('someday')).toBeUndefined();
  });

  it('culture forms: read only where the text proves the order, never guessed', () => {
    // Day and month that cannot be told apart (en-US 2 January or en-AU 1 February): not read alone…
    expect(parsePowerShellDate('1/2/2026 9:00:00 AM')).toBeUndefined();
    // …but read in the order the rest of the capture proves.
    expect(parsePowerShellDate('1/2/2026 9:00:00 AM', 'month-first')).toBe(new Date(2026, 0, 2, 9, 0, 0).getTime());
    expect(parsePowerShellDate('1/2/2026 9:00:00 AM', 'day-first')).toBe(new Date(2026, 1, 1, 9, 0, 0).getTime());
    expect(slashDateOrder(['1/2/2026 9:00:00 AM', '20/11/2026 9:58:25 AM'])).toBe('day-first');
    expect(slashDateOrder(['1/2/2026 9:00:00 AM', '11/20/2026 9:58:25 AM'])).toBe('month-first');
    expect(slashDateOrder(['11/20/2026 9:58:25 AM', '20/11/2026 9:58:25 AM'])).toBeUndefined();
    expect(slashDateOrder(['1/2/2026 9:00:00 AM', undefined, 5])).toBeUndefined();
    // en-GB proves itself; impossible dates are never rolled over into another month.
    expect(parsePowerShellDate('20/11/2026 09:58:25')).toBe(new Date(2026, 10, 20, 9, 58, 25).getTime());
    expect(parsePowerShellDate('31/11/2026 09:58:25')).toBeUndefined();
    expect(parsePowerShellDate('13/14/2026 09:58:25')).toBeUndefined();
    expect(parsePowerShellDate('11/20/2026 13:58:25 PM')).toBeUndefined();
    expect(parsePowerShellDate('31.11.2026 09:58:25')).toBeUndefined();
    // Year first is unambiguous (sv-SE, ja-JP, zh-CN); ko-KR's 오후 and other cultures' words are not read.
    expect(parsePowerShellDate('2026-11-20 09:58:25')).toBe(new Date(2026, 10, 20, 9, 58, 25).getTime());
    expect(parsePowerShellDate('2026/11/20 9:58:25')).toBe(new Date(2026, 10, 20, 9, 58, 25).getTime());
    expect(parsePowerShellDate('2020-08-28 오후 12:52:04')).toBeUndefined();
    expect(parsePowerShellDate('20/11/2026 9:58:25 a.m.')).toBeUndefined();
  });
});

// Written for these tests in the default table view of Get-NetTCPConnection as Windows PowerShell 5.1
// prints it (columns 35, 9, 35, 10, 11, 14 and 13 wide, one space between, left-aligned; values
// too wide end in "..."), as pasted in public how-tos and issue threads.
const TABLE_HEADER = 'LocalAddress                        LocalPort RemoteAddress                       RemotePort State       AppliedSetting OwningProcess';
const TABLE_DASHES = '------------                        --------- -------------                       ---------- -----       -------------- -------------';
function tableRow(local: string, localPort: number, remote: string, remotePort: number, state: string, applied: string, pid: number | ''): string {
  return `${local.padEnd(35)} ${String(localPort).padEnd(9)} ${remote.padEnd(35)} ${String(remotePort).padEnd(10)} ${state.padEnd(11)} ${applied.padEnd(14)} ${pid}`;
}
const TABLE_ROWS = [
  tableRow('::', 445, '::', 0, 'Listen', '', 4),
  tableRow('0.0.0.0', 55113, '0.0.0.0', 0, 'Bound', '', 20756),
  tableRow('192.0.2.8', 50123, '203.0.113.5', 443, 'CloseWait', 'Internet', 7744),
  tableRow('2a01:cb19:18c:c700:ec96:8a3e:723...', 60108, '2606:4700:90:0:f22e:fbec:5bed:a9b9', 443, 'Established', 'Internet', 9120),
  tableRow('192.0.2.8', 50100, '198.51.100.7', 80, 'TimeWait', '', 0),
];

describe('Get-NetTCPConnection default table view', () => {
  it('a pasted session (prompt, blank line, table): states by enum name, blank AppliedSetting, owners; a cut address kept as printed and counted', () => {
    const text = ['PS C:\\Users\\admin> Get-NetTCPConnection', '', TABLE_HEADER, TABLE_DASHES, ...TABLE_ROWS, '', '', 'PS C:\\Users\\admin>'].join('\r\n');
    expect(detectInputFormat(text)).toBe('powershell');
    const result = parseGetNetTcpConnection(text, { takenAtMs: TAKEN_AT });
    expect(result).toMatchObject({ shape: 'table', problems: [], cutAddresses: 1, mergedRows: 0 });
    expect(result.rows.map((r) => [r.protocol, r.local.address, r.local.port, r.remote.address, r.remote.port, r.state, r.rawState, r.pid])).toEqual([
      ['tcp6', '::', 445, '::', 0, TcpState.LISTEN, 'Listen', 4],
      ['tcp', '0.0.0.0', 55113, '0.0.0.0', 0, TcpState.BOUND, 'Bound', 20756],
      ['tcp', '192.0.2.8', 50123, '203.0.113.5', 443, TcpState.CLOSE_WAIT, 'CloseWait', 7744],
      ['tcp6', '2a01:cb19:18c:c700:ec96:8a3e:723...', 60108, '2606:4700:90:0:f22e:fbec:5bed:a9b9', 443, TcpState.ESTABLISHED, 'Established', 9120],
      ['tcp', '192.0.2.8', 50100, '198.51.100.7', 80, TcpState.TIME_WAIT, 'TimeWait', 0],
    ]);
    expect(getNetTcpConnectionNotices(result, 't.txt')).toEqual([
      't.txt: 1 row has addresses the table view cut (ending in "..."), kept as printed; connections whose cut addresses print alike would count as one; ConvertTo-Json or Format-List gives whole addresses',
    ]);
  });

  it('indented as a whole (a Markdown or e-mail paste), and PowerShell 7: "…" for a cut value, the header coloured', () => {
    const rows = [...TABLE_ROWS.slice(0, 3), tableRow('2a01:cb19:18c:c700:ec96:8a3e:7234:…', 60107, '2606:4700:90:0:f22e:fbec:5bed:a9b9', 443, 'Established', 'Internet', 9120)];
    // PowerShell 7.2+ wraps the header and dashes in $PSStyle.Formatting.TableHeader (green, bold) on a terminal.
    const text = [`\x1b[32;1m${TABLE_HEADER}\x1b[0m`, `\x1b[32;1m${TABLE_DASHES}\x1b[0m`, ...rows].map((l) => `    ${l}`).join('\n');
    const result = parseGetNetTcpConnection(text, { takenAtMs: TAKEN_AT });
    expect(result.problems).toEqual([]);
    expect(result.rows.map((r) => [r.local.address, r.pid])).toEqual([
      ['::', 4],
      ['0.0.0.0', 20756],
      ['192.0.2.8', 7744],
      ['2a01:cb19:18c:c700:ec96:8a3e:7234:…', 9120],
    ]);
    expect(result.cutAddresses).toBe(1);
  });

  it('a narrow console: OwningProcess wrapped in the header, or left out', () => {
    // The wrapped header follows a real paste (the title cut over two lines, the column 8 wide).
    const wrapped = [
      'LocalAddress                        LocalPort RemoteAddress                       RemotePort State       AppliedSetting OwningPr',
      '                                                                                                                        ocess',
      '------------                        --------- -------------                       ---------- -----       -------------- --------',
      '127.0.0.1                           27017     127.0.0.1                           60217      CloseWait   Internet       14056',
    ].join('\n');
    expect(parseGetNetTcpConnection(wrapped, { takenAtMs: TAKEN_AT }).rows).toMatchObject([{ local: { port: 27017 }, state: TcpState.CLOSE_WAIT, pid: 14056 }]);
    const dropped = [TABLE_HEADER.slice(0, 117), TABLE_DASHES.slice(0, 117), TABLE_ROWS[2]!.slice(0, 117).trimEnd()].join('\n');
    const [row] = parseGetNetTcpConnection(dropped, { takenAtMs: TAKEN_AT }).rows;
    expect(row).toMatchObject({ state: TcpState.CLOSE_WAIT, local: { port: 50123 } });
    expect(row!.pid).toBeUndefined();
  });

  it('a row that does not line up with the columns is a problem; the others stay; none usable is unusable', () => {
    // An indented table with one row that lost its indentation, and one whose text runs across a column start.
    const text = [TABLE_HEADER, TABLE_DASHES, TABLE_ROWS[0], TABLE_ROWS[2], 'x'.repeat(40), TABLE_ROWS[1]].map((l, i) => (i === 3 ? l : `    ${l}`)).join('\n');
    const result = parseGetNetTcpConnection(text, { takenAtMs: TAKEN_AT });
    expect(result.rows.map((r) => r.local.port)).toEqual([445, 55113]);
    expect(result.problems).toEqual([
      { line: 4, message: "row does not line up with the table's columns" },
      { line: 5, message: "row does not line up with the table's columns" },
    ]);
    expect(() => parseGetNetTcpConnection([TABLE_HEADER, TABLE_DASHES, 'y'.repeat(40)].join('\n'), { takenAtMs: TAKEN_AT })).toThrow(
      new UnusableInputError("no usable record in the table view (line 3: row does not line up with the table's columns)"),
    );
  });
});

describe('Get-NetTCPConnection | Format-List', () => {
  // Written for this test in the shape of Format-List's records (a real paste: `CreationTime   : 2020-08-28 오후 12:52:04` from a ko-KR session).
  const record = (local: string, port: number, state: string, created: string) =>
    [
      `LocalAddress   : ${local}`,
      `LocalPort      : ${port}`,
      'RemoteAddress  : 203.0.113.5',
      'RemotePort     : 443',
      `State          : ${state}`,
      'AppliedSetting : Internet',
      'OwningProcess  : 21616',
      `CreationTime   : ${created}`,
      'OffloadState   : InHost',
    ].join('\n');

  it('records between blank lines; a CreationTime in an unreadable culture is dropped with one notice', () => {
    const text = [
      'PS C:\\> Get-NetTCPConnection -RemotePort 443 | Format-List',
      '',
      '',
      record('192.0.2.8', 50123, 'CloseWait', '11/20/2026 9:58:25 AM'),
      '',
      record('fe80::1c2d:3e4f:5a6b:7c8d%12', 50124, 'Established', '2020-08-28 오후 12:52:04'),
      '',
      '',
    ].join('\n');
    expect(detectInputFormat(text)).toBe('powershell');
    const result = parseGetNetTcpConnection(text, { takenAtMs: TAKEN_AT });
    expect(result).toMatchObject({ shape: 'list', problems: [], unreadableCreationTimes: 1 });
    expect(result.rows).toEqual([
      {
        protocol: 'tcp',
        local: { address: '192.0.2.8', port: 50123 },
        remote: { address: '203.0.113.5', port: 443 },
        state: TcpState.CLOSE_WAIT,
        rawState: 'CloseWait',
        pid: 21616,
        createdAgoMs: TAKEN_AT - new Date(2026, 10, 20, 9, 58, 25).getTime(),
      },
      {
        protocol: 'tcp6',
        local: { address: 'fe80::1c2d:3e4f:5a6b:7c8d', port: 50124 },
        remote: { address: '203.0.113.5', port: 443 },
        state: TcpState.ESTABLISHED,
        rawState: 'Established',
        pid: 21616,
      },
    ]);
    expect(getNetTcpConnectionNotices(result, 'l.txt')).toEqual([
      "l.txt: 1 CreationTime value was dropped: their date form cannot be read without guessing (a culture's own format, or day and month that cannot be told apart); ConvertTo-Json writes an unambiguous one",
    ]);
  });

  it('slash dates are read in the order the capture proves, or all dropped', () => {
    const gb = [record('192.0.2.8', 1, 'CloseWait', '1/2/2026 9:00:00'), '', record('192.0.2.8', 2, 'CloseWait', '20/11/2026 09:58:25')].join('\n');
    expect(parseGetNetTcpConnection(gb, { takenAtMs: TAKEN_AT }).rows.map((r) => r.createdAgoMs)).toEqual([
      TAKEN_AT - new Date(2026, 1, 1, 9).getTime(),
      TAKEN_AT - new Date(2026, 10, 20, 9, 58, 25).getTime(),
    ]);
    const unknown = [record('192.0.2.8', 1, 'CloseWait', '1/2/2026 9:00:00 AM'), '', record('192.0.2.8', 2, 'CloseWait', '3/4/2026 9:00:00 AM')].join('\n');
    const result = parseGetNetTcpConnection(unknown, { takenAtMs: TAKEN_AT });
    expect(result.rows.map((r) => r.createdAgoMs)).toEqual([undefined, undefined]);
    expect(result.unreadableCreationTimes).toBe(2);
  });
});

describe('messages say what the input is', () => {
  it('neither shape: the message names the four shapes, never "no LocalAddress column" for text that starts with it', () => {
    const message =
      'no Get-NetTCPConnection output: expected ConvertTo-Json, Export-Csv (a header row naming LocalAddress), the table view (LocalAddress LocalPort … over a line of dashes) or Format-List records (LocalAddress : …)';
    for (const text of ['LocalAddress LocalPort RemoteAddress RemotePort State\n10.0.0.1 5 10.0.0.2 80 Established', 'Dear support, our server is slow.']) {
      expect(() => parseGetNetTcpConnection(text, { takenAtMs: TAKEN_AT })).toThrow(new UnusableInputError(message));
    }
    expect(detectInputFormat('Dear support, LocalAddress is 10.0.0.1')).toBeUndefined();
  });
});

describe('parseTasklist', () => {
  it('image name and PID from tasklist /fo csv /nh, whatever the language of the other columns', () => {
    const text = '"System Idle Process","0","Services","0","8 K"\r\n"svchost.exe","1044","Services","0","12.345 K"\r\n"Größe, Test.exe","7744","Console","1","1.024 K"\r\n';
    expect([...parseTasklist(text)]).toEqual([
      [0, 'System Idle Process'],
      [1044, 'svchost.exe'],
      [7744, 'Größe, Test.exe'],
    ]);
  });
});
