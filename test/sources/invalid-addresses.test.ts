import { describe, expect, it } from 'vitest';
import { parseAddressText, parseHostText, parseNamedEndpoint } from '../../src/core/address.js';
import { parseConntrack } from '../../src/sources/linux/parse-conntrack.js';
import { parseLinuxNetstat } from '../../src/sources/linux/parse-netstat-linux.js';
import { parseProcNetTcp } from '../../src/sources/linux/parse-procfs.js';
import { parseSs } from '../../src/sources/linux/parse-ss.js';
import { parseBsdNetstat } from '../../src/sources/macos/parse-netstat-bsd.js';
import { rowsFromSystemInformation } from '../../src/sources/portable/systeminformation.js';
import { parseGetNetTcpConnection } from '../../src/sources/windows/parse-get-nettcpconnection.js';
import { parseWindowsNetstat } from '../../src/sources/windows/parse-netstat-windows.js';

// Text that looks like an address but is none (`300.1.1.1`, `[zzz::]`) is a counted problem in
// every capture format, never a row. Each input below was written for the test, in the shape of
// the real capture named beside it (test/fixtures), one good row first.

const BAD_V4 = ['300.1.1.1', '1.2.3', '10.0.0.256', '1.2.3.4.5'];
const BAD_V6 = ['zzz::', '1::2::3', '12345::1', 'fe80:::1', ':::'];

describe('address text', () => {
  it('parseAddressText takes IPv4 and IPv6 only', () => {
    expect(parseAddressText('10.0.0.1')).toBe('10.0.0.1');
    expect(parseAddressText('2001:DB8::1')).toBe('2001:db8::1');
    expect(parseAddressText('::ffff:10.0.0.1')).toBe('10.0.0.1');
    for (const bad of [...BAD_V4, ...BAD_V6, 'db.example', '', '*']) expect(parseAddressText(bad), bad).toBeUndefined();
  });

  it('parseHostText takes names too, but not numeric-looking text that is no address', () => {
    expect(parseHostText('db.example')).toBe('db.example');
    expect(parseHostText('DESKTOP-DQP1BRI')).toBe('DESKTOP-DQP1BRI');
    expect(parseHostText('82')).toBe('82'); // a bare number is a name Windows netstat printed
    for (const bad of [...BAD_V4, ...BAD_V6, 'a b', 'x/y', 'host;rm']) expect(parseHostText(bad), bad).toBeUndefined();
    // Where a column may have cut it, the start of an address is kept as printed; other text is not.
    expect(parseHostText('2001:db8:85a3:0:0:8a2', true)).toBe('2001:db8:85a3:0:0:8a2');
    expect(parseHostText('192.168.100.', true)).toBe('192.168.100.');
    expect(parseHostText('zzz::', true)).toBeUndefined();
    expect(parseHostText('300.1.1.1', true)).toBeUndefined();
  });

  it('parseNamedEndpoint refuses them with or without brackets', () => {
    expect(parseNamedEndpoint('api:1032')).toEqual({ address: 'api', port: 1032, wildcard: false });
    expect(parseNamedEndpoint('[::]:ssh')).toEqual({ address: '::', port: 22, wildcard: false });
    for (const bad of ['300.1.1.1:80', '[zzz::]:22', 'zzz:::22', '1.2.3:https']) expect(parseNamedEndpoint(bad), bad).toBeUndefined();
  });
});

/** Each format: a good row and a row with `addr` in place of its local address. */
const FORMATS: { name: string; parse: (text: string) => { rows: unknown[]; problems: { message: string }[] }; text: (addr: string) => string }[] = [
  {
    name: 'ss (linux-ss-tanoie-park-sockets-kernel6.txt)',
    parse: (t) => parseSs(t, { uptimeMs: 3_600_000 }),
    text: (a) =>
      `State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\nESTAB 0 0 127.0.0.1:36042 127.0.0.1:56493 ino:1\nESTAB 0 0 ${a.includes(':') ? `[${a}]` : a}:36043 127.0.0.1:56493 ino:2\n`,
  },
  {
    name: 'Linux netstat (linux-netstat-tan-es-ES-issue-wazuh-3071.txt)',
    parse: parseLinuxNetstat,
    text: (a) =>
      `Proto Recv-Q Send-Q Local Address Foreign Address State\ntcp 0 0 127.0.0.1:47666 127.0.0.1:2222 ESTABLISHED\ntcp${a.includes(':') ? '6' : ''} 0 0 ${a}:47667 127.0.0.1:2222 ESTABLISHED\n`,
  },
  {
    name: 'Windows netstat (win-netstat-an-en-US-jc-windows10.txt)',
    parse: parseWindowsNetstat,
    text: (a) =>
      `Active Connections\n\n  Proto  Local Address          Foreign Address        State\n  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING\n  TCP    ${a.includes(':') ? `[${a}]` : a}:136    0.0.0.0:0              LISTENING\n`,
  },
  {
    name: 'macOS netstat (macos-netstat-An-10.14.6-jc.txt)',
    parse: parseBsdNetstat,
    text: (a) =>
      `Active Internet connections\nProto Recv-Q Send-Q  Local Address      Foreign Address    (state)\ntcp4       0      0  10.0.0.2.5486      10.0.0.9.443       ESTABLISHED\ntcp4       0      0  ${a}.5487  10.0.0.9.443       ESTABLISHED\n`,
  },
  {
    name: 'nf_conntrack (linux-nf-conntrack-park-sockets-kernel6.txt)',
    parse: (t) => parseConntrack(t),
    text: (a) =>
      `ipv4     2 tcp      6 431994 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=56544 dport=42443 src=127.0.0.1 dst=127.0.0.1 sport=42443 dport=56544 [ASSURED] mark=0 zone=0 use=2\nipv4     2 tcp      6 431994 ESTABLISHED src=${a} dst=127.0.0.1 sport=56545 dport=42443 src=127.0.0.1 dst=${a} sport=42443 dport=56545 [ASSURED] mark=0 zone=0 use=2\n`,
  },
  {
    name: 'Get-NetTCPConnection JSON (powershell7-get-nettcpconnection-constructed.json)',
    parse: (t) => parseGetNetTcpConnection(t, { takenAtMs: 0 }),
    text: (a) =>
      JSON.stringify([
        { LocalAddress: '10.1.2.3', LocalPort: 51234, RemoteAddress: '10.20.30.40', RemotePort: 443, State: 5, OwningProcess: 5120 },
        { LocalAddress: a, LocalPort: 51235, RemoteAddress: '10.20.30.40', RemotePort: 443, State: 5, OwningProcess: 5120 },
      ]),
  },
  {
    name: 'Get-NetTCPConnection CSV (powershell51-get-nettcpconnection-constructed.csv)',
    parse: (t) => parseGetNetTcpConnection(t, { takenAtMs: 0 }),
    text: (a) =>
      `"LocalAddress","LocalPort","RemoteAddress","RemotePort","State","OwningProcess"\n"10.1.2.3","51234","10.20.30.40","443","Established","5120"\n"${a}","51235","10.20.30.40","443","Established","5120"\n`,
  },
];

describe.each(FORMATS)('$name', ({ parse, text }) => {
  it.each([...BAD_V4, ...BAD_V6])('%s: one problem naming it, the good row kept', (bad) => {
    const { rows, problems } = parse(text(bad));
    expect(rows).toHaveLength(1);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toContain(bad);
  });
});

describe('the other address readers', () => {
  it('/proc/net/tcp: hex that is not 8 or 32 hex digits is a problem', () => {
    const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
    const row = (local: string) => `   0: ${local}:1F90 0100007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 20 4 30 10 -1\n`;
    const { rows, problems } = parseProcNetTcp(header + row('0100007F') + row('ZZ00007F') + row('0100007'));
    expect(rows).toHaveLength(1);
    expect(problems).toHaveLength(2);
  });

  it('systeminformation: a record with a bad address is skipped and counted', () => {
    const record = (localAddress: string) => ({ protocol: 'tcp', localAddress, localPort: '22', peerAddress: '10.0.0.9', peerPort: '50000', state: 'ESTABLISHED', pid: 1, process: 'sshd' });
    const { rows, skipped } = rowsFromSystemInformation([record('10.0.0.1'), record('300.1.1.1'), record('zzz::'), record('*')]);
    expect(rows.map((r) => r.local.address)).toEqual(['10.0.0.1', '*']);
    expect(skipped).toBe(2);
  });
});
