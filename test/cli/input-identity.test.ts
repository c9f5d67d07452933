import { beforeEach, describe, expect, it } from 'vitest';
import { FakePlatform, runOn } from '../fake-platform.js';

// Two captures of one machine, the second with a new connection listed above the others: a
// CLOSE_WAIT present in both must be one connection that has dwelt the time between them, and be
// flagged once that passes the half-close threshold (--finwait, alias of --half-close).

let platform: FakePlatform;

beforeEach(() => {
  platform = new FakePlatform();
});

const run = (argv: string[]) => runOn(platform, argv);

type JsonRow = { state: string; local: { address: string; port: number }; dwellSeconds: number; dwellSource: string; flag: { kind: string } | null };
const AT = ['--at', '2026-11-20T10:00:00Z,2026-11-20T10:01:30Z'];

async function expectCloseWaitTracked(first: string, second: string, localAddress: string) {
  platform.files.set('/c/1.txt', first);
  platform.files.set('/c/2.txt', second);
  const check = await run(['check', '--json', '--input', '/c/1.txt', '/c/2.txt', ...AT, '--finwait', '60s']);
  expect(check.code).toBe(1);
  const report = JSON.parse(check.out);
  expect(report.flagged.map((f: JsonRow) => [f.state, f.local.address, f.dwellSeconds, f.flag?.kind])).toEqual([['CLOSE_WAIT', localAddress, 90, 'half-close']]);
  // 90 s is under a 2-minute threshold: nothing flagged, so the dwell is what decides.
  const under = await run(['check', '--json', '--input', '/c/1.txt', '/c/2.txt', ...AT, '--finwait', '2m']);
  expect([under.code, JSON.parse(under.out).flagged]).toEqual([0, []]);
  const list = await run(['list', '--json', '--input', '/c/1.txt', '/c/2.txt', ...AT, '--finwait', '60s']);
  const rows = JSON.parse(list.out) as JsonRow[];
  expect(rows.filter((r) => r.state === 'CLOSE_WAIT').map((r) => [r.local.address, r.dwellSeconds, r.flag?.kind])).toEqual([[localAddress, 90, 'half-close']]);
  // The row inserted above is new: it has dwelt at most one interval.
  expect(rows.find((r) => r.local.port === 50999)).toMatchObject({ dwellSeconds: 0 });
}

describe('--input: identity does not move when a row is inserted above', () => {
  // Written for this test in the layout of macOS `netstat -an` (network_cmds inet.c: 22-character
  // address columns; inet6print keeps 16 characters of an IPv6 host).
  const header22 = 'Active Internet connections (including servers)\nProto Recv-Q Send-Q  Local Address          Foreign Address        (state)    ';
  const new22 = 'tcp4       0      0  192.168.1.221.50999    17.57.144.20.5223      ESTABLISHED';
  const rows22 = ['tcp4       0      0  192.168.1.221.54860    140.82.113.26.443      ESTABLISHED', 'tcp6       0      0  2001:db8:aaaa:bb.50001 2001:db8:cccc:dd.443   CLOSE_WAIT '];

  it('macOS netstat -an: the cut IPv6 CLOSE_WAIT is one connection across both captures, flagged after 90 s', async () => {
    await expectCloseWaitTracked([header22, ...rows22].join('\n'), [header22, new22, ...rows22].join('\n'), '2001:db8:aaaa:bb');
  });

  it('macOS netstat -anA: cut rows are told apart by their pcb address', async () => {
    // Written for this test in the layout of `netstat -anA` (18-character columns, pcb and flow hash first).
    const header = 'Active Internet connections (including servers)\nSocket           Flowhash Proto Recv-Q Send-Q  Local Address      Foreign Address    (state)    ';
    const rows = [
      '7fb03cb94b4347dd a1f7c428 tcp4       0      0  192.168.1.221.5164 35.235.123.194.555 CLOSE_WAIT ',
      '7fb03cb94b4f518d 25c58fec tcp6       0      0  fe80::aede:48ff:.4 fe80::aede:48ff:.4 ESTABLISHED',
    ];
    const inserted = '7fb03cb94d505aed cedd0cbf tcp4       0      0  10.0.0.9.50999     140.82.113.26.443  ESTABLISHED';
    await expectCloseWaitTracked([header, ...rows].join('\n'), [header, inserted, ...rows].join('\n'), '192.168.1.221');
  });

  // Written for this test in the default table view of Get-NetTCPConnection (Windows PowerShell
  // 5.1: columns 35, 9, 35, 10, 11, 14, 13 wide over a line of dashes).
  const tableRow = (local: string, localPort: number, remote: string, remotePort: number, state: string, pid: number) =>
    `${local.padEnd(35)} ${String(localPort).padEnd(9)} ${remote.padEnd(35)} ${String(remotePort).padEnd(10)} ${state.padEnd(11)} ${'Internet'.padEnd(14)} ${pid}`;
  const tableHead = [
    'LocalAddress                        LocalPort RemoteAddress                       RemotePort State       AppliedSetting OwningProcess',
    '------------                        --------- -------------                       ---------- -----       -------------- -------------',
  ];
  const tableRows = [tableRow('::', 445, '::', 0, 'Listen', 4), tableRow('192.0.2.8', 50123, '203.0.113.5', 443, 'CloseWait', 7744)];
  const tableNew = tableRow('192.0.2.8', 50999, '198.51.100.7', 443, 'Established', 9120);

  it('Get-NetTCPConnection table view: read, and the CloseWait is one connection across both captures', async () => {
    await expectCloseWaitTracked([...tableHead, ...tableRows].join('\r\n'), [...tableHead, tableNew, ...tableRows].join('\r\n'), '192.0.2.8');
  });

  it('Get-NetTCPConnection | Format-List: the same', async () => {
    // Written for this test in the shape of Format-List records (Name : value, a blank line between).
    const record = (port: number, remote: string, state: string) =>
      [`LocalAddress   : 192.0.2.8`, `LocalPort      : ${port}`, `RemoteAddress  : ${remote}`, 'RemotePort     : 443', `State          : ${state}`, 'OwningProcess  : 7744', ''].join('\n');
    const rows = [record(50123, '203.0.113.5', 'CloseWait')];
    await expectCloseWaitTracked(rows.join('\n'), [record(50999, '198.51.100.7', 'Established'), ...rows].join('\n'), '192.0.2.8');
  });
});
