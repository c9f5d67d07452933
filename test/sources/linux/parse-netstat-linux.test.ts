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

  it('-o timer groups in every form end the row: the owner keeps its blanks, what follows the timer is dropped', () => {
    // Written for the test, in net-tools' `netstat -tanpo` layout (tcp_do_one: PID/Program padded
    // to 20 columns, then the timer); the first row is the one reported in issue 12, trailing
    // `\` included.
    const text = [
      'tcp        0      0 192.0.2.4:35610         192.0.2.5:6379          ESTABLISHED 9360/Passenger Ruby  off (0.00/0/0)\\',
      'tcp        0      0 192.0.2.4:35611         192.0.2.5:6379          ESTABLISHED 9360/Passenger Ruby  keepalive (7199.12/0/0) \\',
      'tcp        0      1 192.0.2.4:35612         192.0.2.6:443           SYN_SENT    77/curl              on (3.51/3/0)"',
      'tcp        0      0 192.0.2.4:35613         192.0.2.6:443           TIME_WAIT   -                    timewait (42.17/0/0)  |',
      'tcp        0   9000 192.0.2.4:35614         192.0.2.7:22            ESTABLISHED 812/sshd: alice      probe (1.20/0/4)',
      'tcp        0      0 192.0.2.4:35615         192.0.2.7:22            ESTABLISHED 812/sshd: alice      unkn-7 (0.50/1/0)',
      'tcp        0      0 192.0.2.4:35616         192.0.2.7:22            ESTABLISHED keepalive (12.00/0/0)',
      'tcp        0      0 192.0.2.4:35617         192.0.2.5:6379          ESTABLISHED 9360/Passenger Ruby \\',
    ].join('\n');
    const { rows, problems } = parseLinuxNetstat(text);
    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.local.port, r.state, r.pid, r.process, r.timer, r.retransmits])).toEqual([
      [35610, TcpState.ESTABLISHED, 9360, 'Passenger Ruby', undefined, 0],
      [35611, TcpState.ESTABLISHED, 9360, 'Passenger Ruby', { name: 'keepalive', remainingMs: 7_199_120 }, 0],
      [35612, TcpState.SYN_SENT, 77, 'curl', { name: 'on', remainingMs: 3510 }, 3],
      [35613, TcpState.TIME_WAIT, undefined, undefined, { name: 'timewait', remainingMs: 42_170 }, 0],
      [35614, TcpState.ESTABLISHED, 812, 'sshd: alice', { name: 'persist', remainingMs: 1200 }, 0],
      [35615, TcpState.ESTABLISHED, 812, 'sshd: alice', { name: 'other', remainingMs: 500 }, 1],
      [35616, TcpState.ESTABLISHED, undefined, undefined, { name: 'keepalive', remainingMs: 12_000 }, 0],
      [35617, TcpState.ESTABLISHED, 9360, 'Passenger Ruby', undefined, undefined],
    ]);
  });

  it('translated timer groups (net-tools po files): one- and two-word names, decimal comma, the Estonian `((`', () => {
    // Written for the test: the msgstr forms of net-tools' de, ca, ja, et and pt_BR catalogues, in
    // the `netstat -tanpo` layout; LC_NUMERIC=de_DE prints the seconds with a comma.
    const text = [
      'tcp        0      0 10.0.0.5:40100          10.0.0.9:5432           VERBUNDEN   1337/Web Content     ein (0,20/2/0)',
      'tcp        0      0 10.0.0.5:40101          10.0.0.9:5432           VERBUNDEN   1337/Web Content     aus (0.00/0/0)',
      "tcp        0      0 10.0.0.5:40102          10.0.0.9:5432           TIME_WAIT   -                    temps d'espera (55.00/0/0)",
      'tcp        0      0 10.0.0.5:40103          10.0.0.9:5432           ESTABLISHED 4242/java            キープアライブ (7000.00/0/0)',
      'tcp        0      0 10.0.0.5:40104          10.0.0.9:5432           ESTABLISHED 4242/java            eikäi ((0.00/0/0)',
      'tcp        0      0 10.0.0.5:40105          10.0.0.9:5432           ESTABLISHED 4242/java            desconh.-9 (0.10/1)',
    ].join('\n');
    const { rows, problems } = parseLinuxNetstat(text);
    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.process, r.timer, r.retransmits])).toEqual([
      ['Web Content', { name: 'on', remainingMs: 200 }, 2],
      ['Web Content', undefined, 0],
      [undefined, { name: 'timewait', remainingMs: 55_000 }, 0],
      ['java', { name: 'keepalive', remainingMs: 7_000_000 }, 0],
      ['java', undefined, 0],
      ['java', { name: 'other', remainingMs: 100 }, 1],
    ]);
  });

  it('-e adds User and Inode between the state and the owner', () => {
    // Written for the test, in `netstat -tanpoe` layout (finish_this_one: user, inode, owner, timer).
    const text = [
      'tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN      0          18421      812/sshd             off (0.00/0/0)',
      'tcp        0      1 10.0.0.5:40100          10.0.0.9:5432           POSLEDNÍ ACK postgres   99123      -                    on (0.20/2/0)',
    ].join('\n');
    const { rows, problems } = parseLinuxNetstat(text);
    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.state, r.rawState, r.uid, r.inode, r.pid, r.process])).toEqual([
      [TcpState.LISTEN, 'LISTEN', 0, 18421, 812, 'sshd'],
      [TcpState.LAST_ACK, 'POSLEDNÍ ACK', undefined, 99123, undefined, undefined],
    ]);
  });

  it('a truncated row is a problem; the rows around it stay', () => {
    const { rows, problems } = parseLinuxNetstat('tcp 0 0 1.1.1.1:1 2.2.2.2:2 ESTABLISHED\ntcp 0 0 1.1.1.1:3\ntcp 0 0 1.1.1.1:4 2.2.2.2:2 TIME_WAIT\n');
    expect(rows.map((r) => r.local.port)).toEqual([1, 4]);
    expect(problems).toEqual([{ line: 2, message: 'truncated row: 4 fields, at least 6 expected' }]);
  });
});
