import { describe, expect, it } from 'vitest';
import { TcpState } from '../../../src/core/tcp-state.js';
import { decodeText } from '../../../src/sources/decode-text.js';
import { parseGetNetTcpConnection, parsePowerShellDate } from '../../../src/sources/windows/parse-get-nettcpconnection.js';
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

  it('date forms', () => {
    expect(parsePowerShellDate('\\/Date(1605600000000)\\/')).toBe(1605600000000);
    expect(parsePowerShellDate('/Date(1605600000000+0100)/')).toBe(1605600000000);
    expect(parsePowerShellDate({ value: '/Date(1605600000000)/', DateTime: 'Tuesday…' })).toBe(1605600000000);
    expect(parsePowerShellDate('2020-11-17T09:00:00.1234567+01:00')).toBe(Date.parse('2020-11-17T08:00:00.123Z'));
    expect(parsePowerShellDate('17.11.2020 09:00:00')).toBe(new Date(2020, 10, 17, 9, 0, 0).getTime());
    expect(parsePowerShellDate('11/17/2020 12:30:00 AM')).toBe(new Date(2020, 10, 17, 0, 30, 0).getTime());
    expect(parsePowerShellDate('someday')).toBeUndefined();
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
