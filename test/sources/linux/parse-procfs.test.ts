import { describe, expect, it } from 'vitest';
import { parseKernelLine, parseProcLine, parseProcNetTcp } from '../../../src/sources/linux/parse-procfs.js';
import { UnusableInputError } from '../../../src/sources/unusable-input.js';
import { countBy, readFixture } from '../../fixture.js';

const find = (rows: ReturnType<typeof parseProcNetTcp>['rows'], localPort: number, remotePort?: number) =>
  rows.filter((r) => r.local.port === localPort && (remotePort === undefined || r.remote.port === remotePort));

describe('parseProcNetTcp on real captures', () => {
  it('reads the stuck-state namespace capture (tcp then tcp6, two headers) with every row and state', () => {
    const { rows, problems } = parseProcNetTcp(readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt'));
    expect(problems).toEqual([]);
    expect(rows).toHaveLength(25);
    expect(countBy(rows, (r) => r.state)).toEqual({ LISTEN: 8, ESTABLISHED: 7, CLOSE_WAIT: 4, FIN_WAIT_2: 4, SYN_SENT: 1, SYN_RECEIVED: 1 });
    expect(countBy(rows, (r) => r.protocol)).toEqual({ tcp: 20, tcp6: 5 });
  });

  it('decodes SYN_SENT retransmit timer, count and RTO', () => {
    const { rows } = parseProcNetTcp(readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt'));
    // 11: 0100007F:DBCC 0100007F:AF41 02 00000001:00000000 01:000002F9 00000007 ... 800 0 0 1 -1
    const [synSent] = find(rows, 0xdbcc, 0xaf41);
    expect(synSent).toMatchObject({
      state: 'SYN_SENT',
      rawState: '02',
      local: { address: '127.0.0.1', port: 56268 },
      remote: { address: '127.0.0.1', port: 44865 },
      sendQueue: 1,
      receiveQueue: 0,
      retransmits: 7,
      timer: { name: 'on', remainingMs: 7610 },
      rtoMs: 8000,
      inode: 233566,
    });
  });

  it('keeps inode 0 for request and unaccepted sockets', () => {
    const { rows } = parseProcNetTcp(readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt'));
    const synReceived = rows.find((r) => r.state === 'SYN_RECEIVED')!;
    expect(synReceived).toMatchObject({ inode: 0, retransmits: 3, timer: { name: 'on', remainingMs: 3510 } });
    expect(synReceived.rtoMs).toBeUndefined(); // request sockets print no RTO column
    expect(find(rows, 44865, 56264)[0]).toMatchObject({ state: 'ESTABLISHED', inode: 0 });
  });

  it('shows IPv4-mapped tcp6 rows as IPv4 and ::1 as ::1', () => {
    const { rows } = parseProcNetTcp(readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt'));
    const mapped = find(rows, 36563, 34110)[0]!;
    expect(mapped).toMatchObject({ protocol: 'tcp6', state: 'FIN_WAIT_2', local: { address: '127.0.0.1' }, remote: { address: '127.0.0.1' } });
    expect(find(rows, 44747, 52756)[0]).toMatchObject({ protocol: 'tcp6', local: { address: '::1' }, remote: { address: '::1' } });
    expect(find(rows, 36563, 0)[0]).toMatchObject({ protocol: 'tcp6', state: 'LISTEN', local: { address: '::' } });
  });

  it('decodes the kubernetes capture: mapped 10.85.0.151, not the byte-reversed 7f00:1:0:ffff::', () => {
    const { rows, problems } = parseProcNetTcp(readFixture('linux-proc-net-tcp-tcp6-ipv4mapped-k8s-scylla-operator.txt'));
    expect(problems).toEqual([]);
    expect(rows).toHaveLength(9);
    expect(countBy(rows, (r) => r.state)).toEqual({ LISTEN: 4, TIME_WAIT: 2, ESTABLISHED: 3 });
    const mapped = rows.filter((r) => r.protocol === 'tcp6' && r.local.address === '10.85.0.151');
    expect(mapped.map((r) => `${r.local.port}>${r.remote.address}:${r.remote.port}`)).toEqual(['8080>10.85.0.1:36670', '10001>10.85.0.81:37532']);
    expect(rows.find((r) => r.local.port === 7199)).toMatchObject({ protocol: 'tcp6', local: { address: '127.0.0.1' } });
    // tcp row 68: 9700550A:81AC 0100600A:01BB
    expect(rows.find((r) => r.local.port === 0x81ac)).toMatchObject({ protocol: 'tcp', local: { address: '10.85.0.151' }, remote: { address: '10.96.0.1', port: 443 } });
  });

  it('reads the jc captures: FIN_WAIT_1, TIME_WAIT with its timer, global IPv6 in RFC 5952 form', () => {
    const v4 = parseProcNetTcp(readFixture('linux-proc-net-tcp-jc.txt'));
    expect(v4.problems).toEqual([]);
    expect(countBy(v4.rows, (r) => r.state)).toEqual({ LISTEN: 4, CLOSE_WAIT: 1, FIN_WAIT_1: 6, TIME_WAIT: 15, ESTABLISHED: 1 });
    expect(v4.rows[0]).toMatchObject({ local: { address: '127.0.0.53', port: 53 }, uid: 101 });
    const timeWait = v4.rows.find((r) => r.state === 'TIME_WAIT')!;
    expect(timeWait.timer).toEqual({ name: 'timewait', remainingMs: 0x7c5 * 10 });
    expect(v4.rows.find((r) => r.state === 'ESTABLISHED')!.timer).toEqual({ name: 'keepalive', remainingMs: 0xab71d * 10 });

    const v6 = parseProcNetTcp(readFixture('linux-proc-net-tcp6-jc.txt'));
    expect(v6.rows).toHaveLength(8);
    expect(countBy(v6.rows, (r) => r.state)).toEqual({ LISTEN: 1, TIME_WAIT: 7 });
    expect(v6.rows[1]).toMatchObject({ protocol: 'tcp6', local: { address: '2601:646:9e01:f100::3a4c', port: 0xe700 }, remote: { port: 80 } });
    expect(v6.rows[0]).toMatchObject({ local: { address: '::', port: 22 }, remote: { address: '::', port: 0 } });
  });
});

describe('the positional reader of kernel rows', () => {
  it.each([
    'linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt',
    'linux-proc-net-tcp-tcp6-park-sockets-kernel6.txt',
    'linux-proc-net-tcp-tcp6-ipv4mapped-k8s-scylla-operator.txt',
    'linux-proc-net-tcp-jc.txt',
    'linux-proc-net-tcp6-jc.txt',
  ])('reads every row of %s itself, exactly as the general field parser does', (fixture) => {
    const rowLines = readFixture(fixture)
      .split('\n')
      .filter((line) => /^\s*\d+:/.test(line));
    expect(rowLines.length).toBeGreaterThan(5);
    for (const line of rowLines) {
      const fast = parseKernelLine(line, line.search(/\S/), true);
      expect(fast, line).toBeDefined();
      expect(fast).toStrictEqual(parseProcLine(line.trim(), true));
    }
  });

  it('leaves a damaged row to the general parser', () => {
    const good = '   0: 0100007F:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4347 1 0000000029e5c33a 100 0 0 10 0';
    expect(parseKernelLine(good, 3, true)).toMatchObject({ local: { port: 7000 }, inode: 4347, rtoMs: 1000 });
    for (const damaged of [good.replace('1B58', '1B5'), good.replace(' 0A ', ' 0A  '), good.replace(' 4347 ', ' 43x7 '), good.slice(0, 60)]) {
      expect(parseKernelLine(damaged, 3, true), damaged).toBeUndefined();
    }
  });
});

describe('parseProcNetTcp on damaged input', () => {
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
  const good = '   0: 0100007F:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4347 1 0000000029e5c33a 100 0 0 10 0';

  it('skips a truncated line and a garbled one with a counted problem, keeping the good rows', () => {
    const text = [
      header,
      good,
      '   1: 0100007F:C232 0100007F:1B58 08 00000000:0000',
      '   2: ZZZZ:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1',
      good.replace('1B58', '1B59'),
    ].join('\n');
    const { rows, problems } = parseProcNetTcp(text);
    expect(rows.map((r) => r.local.port)).toEqual([7000, 7001]);
    expect(problems).toEqual([
      { line: 3, message: expect.stringContaining('truncated') },
      { line: 4, message: expect.stringContaining('bad address') },
    ]);
  });

  it('keeps an unknown state code as UNKNOWN with its raw code', () => {
    const { rows } = parseProcNetTcp([header, good.replace(' 0A ', ' 0F ')].join('\n'));
    expect(rows[0]).toMatchObject({ state: 'UNKNOWN', rawState: '0F' });
  });

  it('throws only when nothing in the text is a socket table', () => {
    expect(() => parseProcNetTcp('hello\nworld\n')).toThrow(UnusableInputError);
    expect(parseProcNetTcp('').rows).toEqual([]);
    expect(parseProcNetTcp(`${header}\n`).rows).toEqual([]);
  });

  it('reads big-endian hosts word by word', () => {
    const { rows } = parseProcNetTcp(`${header}\n   0: 7F000001:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1`, { littleEndian: false });
    expect(rows[0]!.local).toEqual({ address: '127.0.0.1', port: 80 });
  });
});
