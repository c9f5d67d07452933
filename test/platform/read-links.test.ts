import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodePlatform } from '../../src/platform/platform.js';

// Platform.readLinks on the real file system: a directory written for the test, shaped as
// /proc/<pid>/fd (numbered entries linking to "socket:[INODE]"), larger than one batch of links.

const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-read-links-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('nodePlatform().readLinks', () => {
  it('gives every link of the directory with its target, across batches; entries that are not links are left out', async () => {
    for (let fd = 0; fd < 4500; fd++) symlinkSync(`socket:[${100000 + fd}]`, join(dir, String(fd)));
    writeFileSync(join(dir, 'plain'), 'not a link');
    const links = await nodePlatform().readLinks(dir);
    expect(links).toHaveLength(4500);
    const byName = new Map(links);
    expect(byName.get('0')).toBe('socket:[100000]');
    expect(byName.get('4499')).toBe('socket:[104499]');
    expect(byName.has('plain')).toBe(false);
  });

  it('rejects as a listing does when the directory is not there (a process that exited)', async () => {
    await expect(nodePlatform().readLinks(join(dir, 'gone'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects with EINTERRUPTED when its signal aborts, at once and without a result', async () => {
    const stop = new AbortController();
    const links = nodePlatform().readLinks(dir, stop.signal);
    stop.abort();
    await expect(links).rejects.toMatchObject({ code: 'EINTERRUPTED' });
    // Already aborted: nothing is asked.
    await expect(nodePlatform().readLinks(dir, stop.signal)).rejects.toMatchObject({ code: 'EINTERRUPTED' });
  });

  it("reads this process's own fds from /proc (Linux)", async () => {
    if (process.platform !== 'linux') return;
    const links = await nodePlatform().readLinks('/proc/self/fd');
    expect(links.length).toBeGreaterThan(2);
    expect(links.every(([name, target]) => /^\d+$/.test(name) && target.length > 0)).toBe(true);
  });
});
