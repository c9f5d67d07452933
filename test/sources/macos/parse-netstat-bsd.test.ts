import { describe, expect, it } from 'vitest';
import { connectionKey } from '../../../src/core/connection.js';
import { TcpState } from '../../../src/core/tcp-state.js';
import { bsdNetstatNotices, parseBsdNetstat } from '../../../src/sources/macos/parse-netstat-bsd.js';
import { UnusableInputError } from '../../../src/sources/unusable-input.js';
import { countBy, readFixture } from '../../fixture.js';

// Inputs written for these tests, laid out as Apple's netstat prints them (network_cmds
// netstat.tproj/inet.c protopr_header and protopr): `%-5.5s %-6.6s %-6.6s  ` for Proto Recv-Q Send-Q,
// each address `%-W.Ws ` with W = 18 (-A), 22 (default) or 45 (-l), then `%-11s` for the state;
// with -A the row starts with the pcb address (`%16lx `) and the flow hash (`%8x `).
function header(width: number, { pcb = false, trailing = '' } = {}): string {
  const socket = pcb ? 'Socket           Flowhash ' : '';
  return `Active Internet connections (including servers)\n${socket}Proto Recv-Q Send-Q  ${'Local Address'.padEnd(width)} ${'Foreign Address'.padEnd(width)} (state)    ${trailing}`;
}
function row(width: number, proto: string, local: string, foreign: string, state: string, { pcb, trailing = '' }: { pcb?: string; trailing?: string } = {}): string {
  const socket = pcb ? `${pcb.padStart(16)} ${'1c9f9fcd'.padStart(8)} ` : '';
  return `${socket}${proto.padEnd(5)}      0      0  ${local.padEnd(width)} ${foreign.padEnd(width)} ${state.padEnd(11)}${trailing}`;
}
const keys = (text: string) => parseBsdNetstat(text).rows.map(connectionKey);

describe('parseBsdNetstat', () => {
  it('macOS 10.14 netstat -An: every tcp row (counted by hand), unix and kernel sockets skipped', () => {
    const { rows, problems, possiblyTruncated, addressColumnWidth, pcbAddresses } = parseBsdNetstat(readFixture('macos-netstat-An-10.14.6-jc.txt'));
    expect(problems).toEqual([]);
    expect(countBy(rows, (r) => r.state)).toEqual({ ESTABLISHED: 43, CLOSE_WAIT: 6 });
    expect(countBy(rows, (r) => r.protocol)).toEqual({ tcp: 22, tcp6: 27 });
    expect(rows[0]).toMatchObject({ local: { address: '192.168.1.221', port: 5486 }, remote: { address: '140.82.113.26', port: 443 } });
    // `2600:1700:bab0:d.5`: the column cut the address; it is kept as printed, and counted.
    expect(rows[4]).toMatchObject({ protocol: 'tcp6', local: { address: '2600:1700:bab0:d', port: 5 } });
    // The header shows -A's 18-character column; all but the three 127.0.0.1 rows fill it (counted by hand).
    expect(addressColumnWidth).toBe(18);
    expect(possiblyTruncated).toBe(46);
    expect(pcbAddresses).toBe(true);
    // The three CLOSE_WAIT rows that print alike are three sockets, told apart by their pcb address.
    const alike = rows.filter((r) => r.remote.address === '35.235.123.194');
    expect(alike.map((r) => r.instance)).toEqual(['7fb03cb94b4347dd', '7fb03cb948047aed', '7fb03cb963503e55']);
    expect(new Set(rows.map(connectionKey)).size).toBe(49);
    expect(rows.find((r) => r.local.address === '127.0.0.1')?.instance).toBeUndefined();
  });

  it('macOS 10.14 netstat -Abn: rxbytes/txbytes read by the header; the same sockets as the -An capture have the same keys', () => {
    const abn = parseBsdNetstat(readFixture('macos-netstat-Abn-10.14.6-jc-EXCERPT.txt'));
    expect(abn.problems).toEqual([]);
    expect(countBy(abn.rows, (r) => r.state)).toEqual({ ESTABLISHED: 43, CLOSE_WAIT: 6 });
    const closeWait = abn.rows.find((r) => r.instance === '7fb03cb94bcb6475')!;
    expect(closeWait).toMatchObject({ state: TcpState.CLOSE_WAIT, receiveQueue: 31, bytesReceived: 1424, bytesSent: 2595 });
    expect(closeWait.pid).toBeUndefined();
    // Two captures of one machine in two layouts (-An, -Abn): the six CLOSE_WAIT sockets print the
    // same pcb and text in both (checked with grep), so each is found by its key in the other.
    const an = new Set(keys(readFixture('macos-netstat-An-10.14.6-jc.txt')));
    const abnCloseWait = abn.rows.filter((r) => r.state === TcpState.CLOSE_WAIT).map(connectionKey);
    expect(abnCloseWait.filter((k) => an.has(k))).toHaveLength(6);
  });

  it('macOS 10.14 netstat (22-character column, names): hosts at 16 characters count as cut, unknown service names are problems', () => {
    const { rows, problems, possiblyTruncated, addressColumnWidth, pcbAddresses } = parseBsdNetstat(readFixture('macos-netstat-10.14.6-jc-EXCERPT.txt'));
    expect(addressColumnWidth).toBe(22);
    expect(pcbAddresses).toBe(false);
    // 53 tcp rows; 8 print a service name that is cut (`.sunpr`) or not a well-known one (`.dsf`).
    expect(rows).toHaveLength(45);
    expect(problems.map((p) => p.line)).toEqual([16, 19, 25, 40, 41, 42, 43, 47]);
    expect(rows[1]).toMatchObject({ protocol: 'tcp6', local: { address: 'kbrazil-mac.attl', port: 62978 }, remote: { address: '2620:1ec:42::132', port: 443 } });
    // Every row but the two localhost ones and the TIME_WAIT one to 2600:9000:… has a 16-character host (awk over the file).
    expect(possiblyTruncated).toBe(43);
    expect(rows.every((r) => r.instance === undefined)).toBe(true);
  });

  it('the header decides the width: in the default 22-character column a 19-character IPv4 address is whole', () => {
    const text = [
      header(22),
      row(22, 'tcp4', '192.168.1.221.54860', '140.82.113.26.443', 'ESTABLISHED'),
      // 2001:db8:aaaa:bbbb::10 cut at 16 characters by inet6print, the port whole.
      row(22, 'tcp6', '2001:db8:aaaa:bb.50001', '2001:db8:cccc:dd.443', 'CLOSE_WAIT'),
    ].join('\n');
    const result = parseBsdNetstat(text);
    expect(result.rows.map((r) => [r.local.address, r.local.port, r.state])).toEqual([
      ['192.168.1.221', 54860, TcpState.ESTABLISHED],
      ['2001:db8:aaaa:bb', 50001, TcpState.CLOSE_WAIT],
    ]);
    expect(result).toMatchObject({ addressColumnWidth: 22, possiblyTruncated: 1, mergedRows: 0 });
    expect(bsdNetstatNotices(result, 'a.txt')).toEqual([
      'a.txt: 1 row has addresses netstat may have cut (its 22-character column, hosts at 16 characters); cut addresses may merge distinct connections across captures; `netstat -anlA` prints whole addresses and pcb addresses',
    ]);
  });

  it('-l (45-character column): whole IPv6 addresses are not counted as cut', () => {
    const text = [header(45), row(45, 'tcp6', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff.50001', '2001:db8::10.443', 'CLOSE_WAIT')].join('\n');
    const result = parseBsdNetstat(text);
    expect(result.rows[0]).toMatchObject({ local: { address: '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff', port: 50001 }, remote: { address: '2001:db8::10', port: 443 } });
    expect(result).toMatchObject({ addressColumnWidth: 45, possiblyTruncated: 0 });
    expect(bsdNetstatNotices(result, 'a.txt')).toEqual([]);
  });

  describe('identity never depends on the line number: one row inserted above changes no key', () => {
    const inserted = (width: number, pcb?: string) => row(width, 'tcp4', '10.0.0.9.50000', '10.0.0.1.22', 'ESTABLISHED', pcb ? { pcb } : {});
    const layouts: [string, number, boolean][] = [
      ['netstat -an (22)', 22, false],
      ['netstat -anA (18)', 18, true],
      ['netstat -anl (45)', 45, false],
    ];
    for (const [name, width, pcb] of layouts) {
      it(name, () => {
        const rows = [
          // With -l inet6print keeps 39 characters of the host; else 16, and -A's column cuts the port.
          row(width, 'tcp6', width === 45 ? '2001:db8:aaaa:bbbb::10.50001' : '2001:db8:aaaa:bb.50001'.slice(0, width), '2001:db8:cccc:dd.443', 'CLOSE_WAIT', pcb ? { pcb: '7fb03cb94bcb6475' } : {}),
          row(width, 'tcp4', '192.168.1.221.54860'.slice(0, width), '35.235.123.194.5555'.slice(0, width), 'CLOSE_WAIT', pcb ? { pcb: '7fb03cb94b4347dd' } : {}),
          row(width, 'tcp4', '127.0.0.1.9592', '127.0.0.1.58704', 'CLOSE_WAIT', pcb ? { pcb: '7fb03cb94b38e7dd' } : {}),
        ];
        const before = keys([header(width, { pcb }), ...rows].join('\n'));
        const after = keys([header(width, { pcb }), inserted(width, pcb ? '7fb03cb900000001' : undefined), ...rows].join('\n'));
        expect(after.slice(1)).toEqual(before);
        expect(before.some((k) => k.includes('#'))).toBe(false);
      });
    }

    it('pasted rows without a header or pcb: the printed text is the key, and rows printing alike are counted as merged', () => {
      const cut = row(18, 'tcp4', '192.168.1.221.5164', '35.235.123.194.555', 'CLOSE_WAIT');
      const before = parseBsdNetstat([cut, cut].join('\n'));
      const after = parseBsdNetstat([inserted(18), cut, cut].join('\n'));
      expect(after.rows.slice(1).map(connectionKey)).toEqual(before.rows.map(connectionKey));
      expect(before).toMatchObject({ possiblyTruncated: 2, mergedRows: 1, pcbAddresses: false });
      expect(before.addressColumnWidth).toBeUndefined();
      expect(bsdNetstatNotices(before, 'p.txt')[0]).toContain('no header line, so its column width is unknown');
      expect(bsdNetstatNotices(before, 'p.txt')[0]).toContain('1 row prints exactly like an earlier one and is counted with it');
    });
  });

  describe('-v: the pid column is found by its name, never a buffer size', () => {
    it('macOS 10.x: rhiwat shiwat pid epid state options', () => {
      const text = [
        header(22, { trailing: ' rhiwat shiwat    pid   epid  state    options' }),
        row(22, 'tcp4', '10.16.43.243.55663', '140.205.133.118.80', 'CLOSE_WAIT', { trailing: ' 131072 131100  36843      0 0x0102 0x00000000' }),
      ].join('\n');
      expect(parseBsdNetstat(text).rows[0]).toMatchObject({ state: TcpState.CLOSE_WAIT, pid: 36843 });
    });

    it('macOS 10.x before state/options: rhiwat shiwat pid epid', () => {
      const text = [
        header(22, { trailing: ' rhiwat shiwat    pid   epid' }),
        row(22, 'tcp4', '10.16.43.243.55669', '10.20.13.51.8000', 'ESTABLISHED', { trailing: ' 131346 131768    422      0' }),
      ].join('\n');
      expect(parseBsdNetstat(text).rows[0]!.pid).toBe(422);
    });

    it('macOS 15: rxbytes txbytes come first, then rhiwat shiwat pid epid', () => {
      const text = [
        header(22, { trailing: '      rxbytes      txbytes  rhiwat  shiwat    pid   epid state  options           gencnt    flags   flags1 usecnt rtncnt fltrs' }),
        row(22, 'tcp4', '127.0.0.1.5432', '127.0.0.1.50000', 'CLOSE_WAIT', {
          trailing: '        1424         2595  131072  131072   8812      0 00102 00000008 00000000000e4a9a 00000081 04000900      2      0 000000',
        }),
      ].join('\n');
      expect(parseBsdNetstat(text).rows[0]).toMatchObject({ pid: 8812, bytesReceived: 1424, bytesSent: 2595 });
    });

    it('process:pid, the name holding a space', () => {
      const text = [
        header(22, { trailing: '      rxbytes      txbytes  rhiwat  shiwat          process:pid    state  options           gencnt    flags   flags1 usecnt rtncnt fltrs' }),
        row(22, 'tcp46', '*.443', '*.*', 'LISTEN', {
          trailing: '           0            0  131072  131072      Helium Helper:5660   00100 00000006 00000000000c38ca 00000000 00000800      1      0 000000',
        }),
      ].join('\n');
      expect(parseBsdNetstat(text).rows[0]).toMatchObject({ state: TcpState.LISTEN, pid: 5660, process: 'Helium Helper' });
    });

    it('values after the state without a header naming them: no pid', () => {
      const text = row(22, 'tcp4', '10.16.43.243.55663', '140.205.133.118.80', 'CLOSE_WAIT', { trailing: ' 131072 131100  36843      0' });
      expect(parseBsdNetstat(text).rows[0]!.pid).toBeUndefined();
    });
  });

  it('wildcards, IPv6 with zone, listeners', () => {
    const text =
      'tcp46      0      0  *.22                   *.*                    LISTEN\ntcp6       0      0  fe80::1%lo0.5353       *.*                    LISTEN\ntcp4       0      0  127.0.0.1.5432         127.0.0.1.50000        SYN_RCVD\n';
    expect(parseBsdNetstat(text).rows.map((r) => [r.protocol, r.local.address, r.local.port, r.state])).toEqual([
      ['tcp6', '*', 22, TcpState.LISTEN],
      ['tcp6', 'fe80::1', 5353, TcpState.LISTEN],
      ['tcp', '127.0.0.1', 5432, TcpState.SYN_RECEIVED],
    ]);
  });

  it('no tcp row: the message says whether the text was netstat at all', () => {
    const udpOnly = `${header(22)}\nudp4       0      0  *.5353                 *.*                               \n`;
    expect(() => parseBsdNetstat(udpOnly)).toThrow(new UnusableInputError('no tcp rows: BSD/macOS netstat output without TCP sockets (taken with -p udp?)'));
    expect(() => parseBsdNetstat('Dear support, our Mac is slow.\n')).toThrow(new UnusableInputError('no tcp rows: not BSD/macOS netstat output'));
    expect(() => parseBsdNetstat('udp4       0      0  *.5353                 *.*\n')).toThrow(/without TCP sockets/);
    // net-tools netstat's udp row is not a BSD one.
    expect(() => parseBsdNetstat('udp        0      0 0.0.0.0:68              0.0.0.0:*\n')).toThrow(new UnusableInputError('no tcp rows: not BSD/macOS netstat output'));
  });
});
