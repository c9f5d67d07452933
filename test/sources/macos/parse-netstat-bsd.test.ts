import { describe, expect, it } from 'vitest';
import { TcpState } from '../../../src/core/tcp-state.js';
import { parseBsdNetstat } from '../../../src/sources/macos/parse-netstat-bsd.js';
import { countBy, readFixture } from '../../fixture.js';

describe('parseBsdNetstat', () => {
  it('macOS 10.14 netstat -An: every tcp row (counted by hand), unix and kernel sockets skipped', () => {
    const { rows, problems, possiblyTruncated } = parseBsdNetstat(readFixture('macos-netstat-An-10.14.6-jc.txt'));
    expect(problems).toEqual([]);
    expect(countBy(rows, (r) => r.state)).toEqual({ ESTABLISHED: 43, CLOSE_WAIT: 6 });
    expect(countBy(rows, (r) => r.protocol)).toEqual({ tcp: 22, tcp6: 27 });
    expect(rows[0]).toMatchObject({ local: { address: '192.168.1.221', port: 5486 }, remote: { address: '140.82.113.26', port: 443 } });
    // `2600:1700:bab0:d.5`: the column cut the address; it is kept as printed, and counted.
    expect(rows[4]).toMatchObject({ protocol: 'tcp6', local: { address: '2600:1700:bab0:d', port: 5 } });
    expect(possiblyTruncated).toBeGreaterThanOrEqual(27);
  });

  it('wildcards, IPv6 with zone, listeners', () => {
    const text = 'tcp46      0      0  *.22                   *.*                    LISTEN\ntcp6       0      0  fe80::1%lo0.5353       *.*                    LISTEN\ntcp4       0      0  127.0.0.1.5432         127.0.0.1.50000        SYN_RCVD\n';
    expect(parseBsdNetstat(text).rows.map((r) => [r.protocol, r.local.address, r.local.port, r.state])).toEqual([
      ['tcp6', '*', 22, TcpState.LISTEN],
      ['tcp6', 'fe80::1', 5353, TcpState.LISTEN],
      ['tcp', '127.0.0.1', 5432, TcpState.SYN_RECEIVED],
    ]);
  });
});
