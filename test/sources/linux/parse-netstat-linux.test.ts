import { describe, expect, it } from 'vitest';
import { TcpState } from '../../../src/core/tcp-state.js';
import { parseLinuxNetstat } from '../../../src/sources/linux/parse-netstat-linux.js';
import { countBy, readFixture } from '../../fixture.js';

describe('parseLinuxNetstat on real captures', () => {
  it('Spanish netstat -tan: ESCUCHAR and ESTABLECIDO, every row (counted by hand)', () => {
    const { rows, problems } = parseLinuxNetstat(readFixture('linux-netstat-tan-es-ES-issue-wazuh-3071.txt'));
    expect(problems).toEqual([]);
    expect(countBy(rows, (r) => r.state)).toEqual({ LISTEN: 3, TIME_WAIT: 1, ESTABLISHED: 1 });
    expect(rows[3]).toMatchObject({ protocol: 'tcp6', local: { address: '::', port: 22 }, remote: { address: '::', port: 0 }, rawState: 'ESCUCHAR' });
  });

  it('German netstat -nat: VERBUNDEN, LISTEN stays English', () => {
    const { rows, problems } = parseLinuxNetstat(readFixture('linux-netstat-nat-de-DE-pr-dasource-partyman-32.txt'));
    expect(problems).toEqual([]);
    expect(countBy(rows, (r) => r.state)).toEqual({ LISTEN: 1, ESTABLISHED: 3 });
    expect(rows[1]).toMatchObject({ local: { address: '172.17.1.200', port: 36408 }, remote: { address: '193.36.237.25', port: 51738 }, rawState: 'VERBUNDEN' });
  });

  it('Czech "POSLEDNÍ ACK" (a state with a space), -p owners, -o timers, names without -n', () => {
    const text = [
      'Aktivní internetová spojení (servery a navázaná)',
      'Proto Přijatý Odesl Místní adresa           Vzdálená adresa         Stav        PID/Program name     Časovače',
      'tcp        0      0 0.0.0.0:22              0.0.0.0:*               NASLOUCHÁ   812/sshd: /usr/sbin  off (0.00/0/0)',
      'tcp        0      1 10.0.0.5:40100          10.0.0.9:5432           POSLEDNÍ ACK 1337/Web Content    on (0.20/2/0)',
      'tcp6       0      0 ip6-localhost:ipp       [::]:*                  NASLOUCHÁ   -                    off (0.00/0/0)',
      'tcp        0      0 localhost:ssh           localhost:50022         SPOJENO     -                    keepalive (7199.12/0/0)',
    ].join('\n');
    const { rows, problems } = parseLinuxNetstat(text);
    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.state, r.rawState, r.pid, r.process])).toEqual([
      [TcpState.LISTEN, 'NASLOUCHÁ', 812, 'sshd: /usr/sbin'],
      [TcpState.LAST_ACK, 'POSLEDNÍ ACK', 1337, 'Web Content'],
      [TcpState.LISTEN, 'NASLOUCHÁ', undefined, undefined],
      [TcpState.ESTABLISHED, 'SPOJENO', undefined, undefined],
    ]);
    expect(rows[2]).toMatchObject({ local: { address: 'ip6-localhost', port: 631 } });
    expect(rows[3]).toMatchObject({ local: { address: 'localhost', port: 22 }, remote: { port: 50022 } });
    expect(rows[1]).toMatchObject({ sendQueue: 1, receiveQueue: 0 });
  });

  it('a truncated row is a problem; the rows around it stay', () => {
    const { rows, problems } = parseLinuxNetstat('tcp 0 0 1.1.1.1:1 2.2.2.2:2 ESTABLISHED\ntcp 0 0 1.1.1.1:3\ntcp 0 0 1.1.1.1:4 2.2.2.2:2 TIME_WAIT\n');
    expect(rows.map((r) => r.local.port)).toEqual([1, 4]);
    expect(problems).toEqual([{ line: 2, message: 'truncated row: 4 fields, at least 6 expected' }]);
  });
});
