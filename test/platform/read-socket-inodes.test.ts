import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodePlatform } from '../../src/platform/platform.js';

// Platform.readSocketInodes on the real file system: a directory written for the test, shaped as
// /proc/<pid>/fd (numbered entries linking to "socket:[INODE]", some to other things), larger
// than one batch of links.

const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-read-links-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Both ways: on this thread in slices (no thread started), and `beside` on the file reader's worker.
describe.each([{ beside: false }, { beside: true }])('nodePlatform().readSocketInodes %o', (how) => {
  it('gives the inode of every socket link of the directory, across batches; other links and entries that are not links are left out', async () => {
    if (!existsSync(join(dir, 'plain'))) {
      for (let fd = 0; fd < 4500; fd++) symlinkSync(`socket:[${4_000_000_000 + fd}]`, join(dir, String(fd)));
      // As /proc shows other descriptors (a pipe, a file), and near misses of the socket form.
      symlinkSync('pipe:[77]', join(dir, '4500'));
      symlinkSync('/dev/null', join(dir, '4501'));
      symlinkSync('socket:[12x]', join(dir, '4502'));
      symlinkSync('socket:[88] ', join(dir, '4503'));
      writeFileSync(join(dir, 'plain'), 'not a link');
    }
    const found = await nodePlatform().readSocketInodes(dir, undefined, how);
    // A plain file (EINVAL: not a link) holds no socket: nothing unread.
    expect(found.unreadLinks).toBe(0);
    const inodes = [...found.inodes];
    expect(inodes).toHaveLength(4500);
    // Above 2^32 - 1 would not fit 32 bits; a socket inode is an unsigned long.
    expect(new Set(inodes)).toEqual(new Set(Array.from({ length: 4500 }, (_, fd) => 4_000_000_000 + fd)));
  });

  it('rejects as a listing does when the directory is not there (a process that exited)', async () => {
    await expect(nodePlatform().readSocketInodes(join(dir, 'gone'), undefined, how)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects with EINTERRUPTED when its signal aborts, at once and without a result', async () => {
    const stop = new AbortController();
    const inodes = nodePlatform().readSocketInodes(dir, stop.signal, how);
    stop.abort();
    await expect(inodes).rejects.toMatchObject({ code: 'EINTERRUPTED' });
    // Already aborted: nothing is asked.
    await expect(nodePlatform().readSocketInodes(dir, stop.signal, how)).rejects.toMatchObject({ code: 'EINTERRUPTED' });
  });

  it("reads this process's own socket fds from /proc (Linux)", async () => {
    if (process.platform !== 'linux') return;
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      // The listener's inode, as the kernel names it in /proc/net/tcp (column 10, its port in hex at column 2).
      const port = (server.address() as AddressInfo).port.toString(16).toUpperCase().padStart(4, '0');
      const line = readFileSync('/proc/net/tcp', 'utf8')
        .split('\n')
        .find((l) => l.trim().split(/\s+/)[1] === `0100007F:${port}`);
      const inode = Number(line!.trim().split(/\s+/)[9]);
      expect(inode).toBeGreaterThan(0);
      expect([...(await nodePlatform().readSocketInodes('/proc/self/fd', undefined, how)).inodes]).toContain(inode);
    } finally {
      server.close();
    }
  });
});
