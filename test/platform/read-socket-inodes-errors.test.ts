import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

// readlink(2) failing for one fd link, as it does when the process changed credentials between
// the listing of its fd directory and the readlink (EACCES, EPERM), or /proc failed (EIO). Root
// cannot make a real file system answer so (it passes permission checks), so readlinkSync is made
// to fail for one chosen path; every other link is the real file system's. The walk on this
// thread only: the worker's walk runs in another isolate (read-socket-inodes.test.ts covers its
// success; both take LINK_ERRORS_NO_SOCKET to tell an fd gone from an fd unread).
const failures = new Map<string, string>();
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readlinkSync = ((path: string, ...rest: unknown[]) => {
    const code = failures.get(String(path));
    if (code) throw Object.assign(new Error(`${code}: readlink '${String(path)}'`), { code });
    return (fs.readlinkSync as (...args: unknown[]) => string)(path, ...rest);
  }) as typeof fs.readlinkSync;
  return { ...fs, default: { ...fs, readlinkSync }, readlinkSync };
});
const { nodePlatform } = await import('../../src/platform/platform.js');

const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-read-links-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
for (let fd = 0; fd < 4; fd++) symlinkSync(`socket:[${1000 + fd}]`, join(dir, String(fd)));

describe('nodePlatform().readSocketInodes: a link that cannot be read', () => {
  for (const code of ['EACCES', 'EPERM', 'EIO']) {
    it(`${code}: left out and counted as unread (a socket of the process, perhaps: its owner unproven)`, async () => {
      failures.clear();
      failures.set(join(dir, '1'), code);
      const found = await nodePlatform().readSocketInodes(dir);
      expect([...found.inodes].sort()).toEqual([1000, 1002, 1003]);
      expect(found.unreadLinks).toBe(1);
      expect(found.unreadCode).toBe(code);
    });
  }

  it('ENOENT (closed since the listing) and EINVAL (not a link): no socket, nothing unread', async () => {
    failures.clear();
    failures.set(join(dir, '1'), 'ENOENT');
    failures.set(join(dir, '2'), 'EINVAL');
    const found = await nodePlatform().readSocketInodes(dir);
    expect([...found.inodes].sort()).toEqual([1000, 1003]);
    expect(found.unreadLinks).toBe(0);
  });
});
