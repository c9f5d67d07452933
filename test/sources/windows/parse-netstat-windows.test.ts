import { describe, expect, it } from 'vitest';
import { TcpState } from '../../../src/core/tcp-state.js';
import { decodeText } from '../../../src/sources/decode-text.js';
import { parseWindowsNetstat } from '../../../src/sources/windows/parse-netstat-windows.js';
import { UnusableInputError } from '../../../src/sources/unusable-input.js';
import { countBy, readFixtureBytes } from '../../fixture.js';
import { FIXTURE_STATE_COUNTS } from '../../fixture-counts.js';

const S = TcpState;

function parseFixture(name: string) {
  return parseWindowsNetstat(decodeText(readFixtureBytes(name)).text);
}

const EXPECTED = Object.fromEntries(Object.entries(FIXTURE_STATE_COUNTS).filter(([name]) => name.startsWith('win-netstat')));

describe('parseWindowsNetstat on real captures', () => {
  for (const [name, counts] of Object.entries(EXPECTED)) {
    it(`${name}: every TCP row, exact counts per state, nothing UNKNOWN`, () => {
      const { rows, problems } = parseFixture(name);
      expect(problems).toEqual([]);
      expect(countBy(rows, (r) => r.state)).toEqual(counts);
    });
  }

  it('German Latin-1 bytes: ABH\\xD6REN is LISTEN, SCHLIESSEN_WARTEN is CLOSE_WAIT, PID is the last field', () => {
    const { rows } = parseFixture('win-netstat-ano-de-DE-CRWinNetDiag-output.txt');
    expect(rows[0]).toMatchObject({ protocol: 'tcp', local: { address: '0.0.0.0', port: 80 }, remote: { address: '0.0.0.0', port: 0 }, state: S.LISTEN, rawState: 'ABHÖREN', pid: 4 });
    const closeWait = rows.filter((r) => r.state === S.CLOSE_WAIT);
    expect(closeWait.every((r) => r.rawState === 'SCHLIESSEN_WARTEN' && r.pid !== undefined)).toBe(true);
  });

  it('-b: the image line names the row just above it; TIME_WAIT rows and "cannot obtain" rows stay unnamed', () => {
    const { rows } = parseFixture('win-netstat-b-es-MX-miguehm-redes.txt');
    expect(rows[0]).toMatchObject({ local: { port: 49862 }, remote: { address: 'DESKTOP-DQP1BRI', port: 49863 }, process: 'firefox.exe' });
    // Two TIME_WAIT rows, then an ESTABLISHED row with WpnService / [svchost.exe] below it.
    expect(rows[4]).toMatchObject({ remote: { address: '104.18.13.33', port: 443 }, state: S.TIME_WAIT });
    expect(rows[4]!.process).toBeUndefined();
    expect(rows[5]).toMatchObject({ remote: { address: '20.7.1.246', port: 443 }, process: 'svchost.exe' });
    expect(rows[9]).toMatchObject({ remote: { address: '8.50.5.254', port: 80 } });
    expect(rows[9]!.process).toBeUndefined();
  });

  it('-aonb: PID and image name together', () => {
    const { rows } = parseFixture('win-netstat-aonb-en-US-jc-windows10.txt');
    expect(rows[0]).toMatchObject({ local: { port: 135 }, pid: 1712, process: 'svchost.exe' });
  });

  it('IPv6 rows: [::]:0 listeners, zone indexes dropped, protocol tcp6', () => {
    const { rows } = parseFixture('win-netstat-aon-en-US-jc-windows10.txt');
    const v6 = rows.filter((r) => r.protocol === 'tcp6');
    expect(v6.length).toBeGreaterThan(0);
    expect(v6.every((r) => r.local.address.includes(':'))).toBe(true);
    const linkLocal = parseWindowsNetstat('  TCP    [fe80::1%7]:445        [fe80::2%7]:50000      ESTABLISHED     4\r\n').rows[0];
    expect(linkLocal).toMatchObject({ protocol: 'tcp6', local: { address: 'fe80::1', port: 445 }, remote: { address: 'fe80::2', port: 50000 }, pid: 4 });
  });

  it('every German word and every mangled form of ABHÖREN', () => {
    const words: [string, TcpState][] = [
      ['SYN_GESENDET', S.SYN_SENT],
      ['SYN_EMPFANGEN', S.SYN_RECEIVED],
      ['FIN_WARTEN_1', S.FIN_WAIT_1],
      ['FIN_WARTEN_2', S.FIN_WAIT_2],
      ['SCHLIESSEND', S.CLOSING],
      ['ZULETZT_ACK', S.LAST_ACK],
      ['HERGESTELLT', S.ESTABLISHED],
      ['WARTEND', S.TIME_WAIT],
    ];
    const text = words.map(([w], i) => `  TCP    10.0.0.1:${1000 + i}       10.0.0.2:80            ${w}       9`).join('\n');
    expect(parseWindowsNetstat(text).rows.map((r) => r.state)).toEqual(words.map(([, s]) => s));
    // Listener words mangled by code pages; a non-listener foreign address proves the word is read.
    for (const mangled of ['ABHÖREN', 'ABH™REN', 'ABH\x99REN', 'ABH\uFFFDREN', 'ABHREN']) {
      expect(parseWindowsNetstat(`  TCP    10.0.0.1:80   10.0.0.2:0   ${mangled}   4`).rows[0]?.state).toBe(S.LISTEN);
    }
  });

  it('the CP850 byte 0x99 decodes to Ö with code page 850', () => {
    const bytes = Buffer.concat([Buffer.from('  TCP    0.0.0.0:80    0.0.0.0:0    ABH'), Buffer.from([0x99]), Buffer.from('REN    4\r\n')]);
    expect(parseWindowsNetstat(decodeText(bytes, 850).text).rows[0]?.rawState).toBe('ABHÖREN');
    expect(parseWindowsNetstat(decodeText(bytes).text).rows[0]?.rawState).toBe('ABH™REN');
  });

  it('an unknown word keeps its text and maps to UNKNOWN; a truncated row is a problem; good rows stay', () => {
    const text = [
      '  Proto  Lokale Adresse         Remoteadresse          Status           PID',
      '  TCP    10.0.0.1:5000          10.0.0.2:80            GESCHLOSSEN_IRGENDWIE  77',
      '  TCP    10.0.0.1:5001',
      '  TCP    10.0.0.1:5002          10.0.0.2:80            HERGESTELLT     78',
    ].join('\r\n');
    const { rows, problems } = parseWindowsNetstat(text);
    expect(rows.map((r) => [r.state, r.rawState])).toEqual([
      [S.UNKNOWN, 'GESCHLOSSEN_IRGENDWIE'],
      [S.ESTABLISHED, 'HERGESTELLT'],
    ]);
    expect(problems).toEqual([{ line: 3, message: 'truncated row: 2 fields, at least 4 expected' }]);
  });

  it('text with no netstat rows at all is unusable, with a reason', () => {
    expect(() => parseWindowsNetstat('hello\nworld\n')).toThrow(UnusableInputError);
    expect(parseWindowsNetstat('').rows).toEqual([]);
  });
});
