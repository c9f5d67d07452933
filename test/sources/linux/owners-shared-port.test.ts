import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../../src/core/connection.js';
import { ProcOwners } from '../../../src/sources/linux/owners.js';
import { FakePlatform } from '../../fake-platform.js';

// Rows without an inode (ss without -e, as under `ip netns exec` without a cgroup2 mount) take
// theirs from /proc/net/tcp by 4-tuple. An SO_REUSEPORT group lists one 4-tuple once per listener:
// the key names no one inode, and every listener took the last one's owner (e2e: three listeners
// in two processes all counted under one). Written for the test, in /proc/net/tcp's shape.

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const line = (sl: number, inode: number) => `   ${sl}: 00000000:1BBC 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0`;
const LISTENER: SocketRow = { protocol: 'tcp', local: { address: '0.0.0.0', port: 7100 }, remote: { address: '0.0.0.0', port: 0 }, state: 'LISTEN', rawState: 'LISTEN' };

function host(holders: [pid: number, comm: string, inodes: number[]][]): FakePlatform {
  const platform = new FakePlatform();
  platform.files.set('/proc/net/tcp', `${HEADER}\n${line(0, 501)}\n${line(1, 502)}\n${line(2, 503)}\n`);
  platform.files.set('/proc/net/tcp6', `${HEADER}\n`);
  platform.links.set('/proc/self/ns/net', 'net:[1]');
  for (const [pid, comm, inodes] of holders) {
    platform.files.set(`/proc/${pid}/comm`, `${comm}\n`);
    inodes.forEach((inode, fd) => platform.links.set(`/proc/${pid}/fd/${fd + 3}`, `socket:[${inode}]`));
    platform.inOwnNetns(pid);
  }
  return platform;
}

describe('ProcOwners: rows without an inode, on a 4-tuple procfs lists more than once', () => {
  it('listeners of two processes: no owner is given, and the answer says owners are unknown', async () => {
    const answer = await new ProcOwners(
      host([
        [10, 'a', [501, 502]],
        [20, 'b', [503]],
      ]),
      '/proc',
    ).find([LISTENER, { ...LISTENER }, { ...LISTENER }]);
    expect(answer.ownership.map((o) => o.owner)).toEqual([undefined, undefined, undefined]);
    expect(answer.permissionDenied).toBe(true);
  });

  it('every listener held by one process: that owner is proven for each', async () => {
    const answer = await new ProcOwners(host([[10, 'a', [501, 502, 503]]]), '/proc').find([LISTENER, { ...LISTENER }]);
    expect(answer.ownership.map((o) => o.owner?.pid)).toEqual([10, 10]);
    expect(answer.permissionDenied).toBe(false);
  });
});
