import { describe, expect, it } from 'vitest';
import { TcpState } from '../../../src/core/tcp-state.js';
import { SystemInformationSource, rowsFromSystemInformation, type SiConnection } from '../../../src/sources/portable/systeminformation.js';
import { SourceError, SourceUnavailableError } from '../../../src/sources/source.js';

const record = (over: Partial<SiConnection>): SiConnection => ({
  protocol: 'tcp',
  localAddress: '10.0.0.1',
  localPort: '5000',
  peerAddress: '10.0.0.2',
  peerPort: '80',
  state: 'ESTABLISHED',
  pid: 42,
  process: 'app',
  ...over,
});

describe('rowsFromSystemInformation', () => {
  it("normalises each platform's words and shapes: net-tools, ss pass-through, Windows, macOS", () => {
    const { rows, skipped } = rowsFromSystemInformation([
      record({ state: 'SYN_RECV' }), // Linux netstat -tunap
      record({ state: 'SYN-SENT', localPort: '5001' }), // its ss -tunap fallback passes ss words through
      record({ state: 'FIN_WAIT2', localPort: '5002' }),
      record({ protocol: 'tcp6', localAddress: '[::1]', peerAddress: '[::1]', state: 'CLOSE-WAIT', localPort: '5003' }),
      record({ localAddress: '0.0.0.0', localPort: '22', peerAddress: '0.0.0.0', peerPort: '*', state: 'LISTEN', pid: null, process: '' }),
      record({ localAddress: '0.0.0.0', localPort: '135', peerAddress: '0.0.0.0', peerPort: '0', state: 'LISTENING' }), // Windows
      record({ protocol: 'tcp4', state: 'SYN_RCVD', localPort: '5004' }), // macOS
      record({ protocol: 'udp', state: '' }),
      record({ localPort: 'http-alt?' }),
    ]);
    expect(rows.map((r) => [r.protocol, r.local.address, r.local.port, r.remote.port, r.state])).toEqual([
      ['tcp', '10.0.0.1', 5000, 80, TcpState.SYN_RECEIVED],
      ['tcp', '10.0.0.1', 5001, 80, TcpState.SYN_SENT],
      ['tcp', '10.0.0.1', 5002, 80, TcpState.FIN_WAIT_2],
      ['tcp6', '::1', 5003, 80, TcpState.CLOSE_WAIT],
      ['tcp', '0.0.0.0', 22, 0, TcpState.LISTEN],
      ['tcp', '0.0.0.0', 135, 0, TcpState.LISTEN],
      ['tcp', '10.0.0.1', 5004, 80, TcpState.SYN_RECEIVED],
    ]);
    expect(rows[4]!.pid).toBeUndefined();
    expect(rows[0]).toMatchObject({ pid: 42, process: 'app' });
    expect(skipped).toBe(1);
  });
});

describe('SystemInformationSource', () => {
  it('reads through the injected library; unknown words become one notice', async () => {
    const source = new SystemInformationSource(async () => async () => [record({ state: 'WEIRD' }), record({ localPort: '5001' })]);
    const reading = await source.read();
    expect(reading.rows.map((r) => r.state)).toEqual([TcpState.UNKNOWN, TcpState.ESTABLISHED]);
    expect(reading.notices).toEqual(['systeminformation: 1 row has a state word tcpdwell does not know (WEIRD), shown as UNKNOWN']);
  });

  it('a library that does not load is unavailable; one that throws fails the poll', async () => {
    await expect(new SystemInformationSource(async () => Promise.reject(new Error('nope'))).read()).rejects.toBeInstanceOf(SourceUnavailableError);
    const failing = new SystemInformationSource(async () => async () => Promise.reject(new Error('netstat died')));
    await expect(failing.read()).rejects.toThrow(new SourceError('systeminformation failed: netstat died'));
  });
});
