import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../../src/core/connection.js';
import { ProcOwners } from '../../../src/sources/linux/owners.js';
import { FakePlatform } from '../../fake-platform.js';
import { readFixture } from '../../fixture.js';

// Rows of a source that printed no inode (ss without -e): their inodes come from /proc/net/tcp*,
// and owners from the inodes. Where that table cannot be read, the owner is unknown, not none:
// the answer must say so (permissionDenied), or every such socket reads as held by no process.
const PROC = readFixture('linux-proc-net-tcp-tcp6-park-sockets-kernel6.txt');
const [TCP, TCP6] = PROC.replace(/^#[^\n]*\n/, '').split(/\n(?=\s+sl\s)/) as [string, string];

/** A row of the capture's first tcp line, without its inode (as ss without -e prints it). */
function rowWithoutInode(): SocketRow {
  const fields = TCP.split('\n')[1]!.trim().split(/\s+/);
  const endpoint = (hex: string) => {
    const [address, port] = hex.split(':') as [string, string];
    const bytes = address
      .match(/../g)!
      .map((b) => parseInt(b, 16))
      .reverse();
    return { address: bytes.join('.'), port: parseInt(port, 16) };
  };
  return { protocol: 'tcp', local: endpoint(fields[1]!), remote: endpoint(fields[2]!), state: 'LISTEN', rawState: 'LISTEN' };
}

function host(tcp: string | Error): FakePlatform {
  const platform = new FakePlatform();
  platform.files.set('/proc/net/tcp', tcp);
  platform.files.set('/proc/net/tcp6', `${TCP6}\n`);
  platform.links.set('/proc/self/ns/net', 'net:[1]');
  return platform;
}

describe('ProcOwners: rows without an inode', () => {
  it('as a control: /proc/net/tcp read, the inode found, nothing unproven', async () => {
    const answer = await new ProcOwners(host(`${TCP}\n`), '/proc').find([rowWithoutInode()]);
    expect(answer.ownership[0]!.inode).toBeGreaterThan(0);
    expect(answer.permissionDenied).toBe(false);
  });

  it('/proc/net/tcp unreadable: the owner is not proven, and the answer says so', async () => {
    const answer = await new ProcOwners(host(Object.assign(new Error('EACCES'), { code: 'EACCES' })), '/proc').find([rowWithoutInode()]);
    expect(answer.permissionDenied).toBe(true);
  });
});
