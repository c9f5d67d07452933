import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WorkerFileReader } from '../../src/platform/file-lines.js';

// When the file reader starts its worker thread (a second V8 isolate, ~9 MB), and that it ends
// when idle. Workers are seen through process's 'worker' event, emitted for every Worker started.

const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-file-reader-'));
for (let fd = 0; fd < 1200; fd++) symlinkSync(`socket:[${1000 + fd}]`, join(dir, String(fd)));
const file = join(dir, 'table');
writeFileSync(file, 'a\nb\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const started: Worker[] = [];
const onWorker = (worker: Worker) => started.push(worker);
process.on('worker', onWorker);
afterAll(() => process.off('worker', onWorker));
afterEach(async () => {
  await Promise.all(started.map((worker) => worker.terminate()));
  started.length = 0;
});

const ended = (worker: Worker) => new Promise<number>((resolve) => worker.once('exit', resolve));

describe('WorkerFileReader threads', () => {
  it('reads socket links on this thread, starting no worker, unless the caller asks for them beside its work', async () => {
    const reader = new WorkerFileReader();
    const here = await reader.readSocketInodes(dir);
    expect(here.inodes.length).toBe(1200);
    expect(here.unreadLinks).toBe(0);
    expect(started).toHaveLength(0);
    const beside = await reader.readSocketInodes(dir, undefined, true);
    // In no set order (the worker lists the directory whole, this thread a batch at a time).
    expect([...beside.inodes].sort()).toEqual([...here.inodes].sort());
    expect(beside.unreadLinks).toBe(0);
    expect(started).toHaveLength(1);
    // The worker is running now: later walks use it rather than this thread.
    await reader.readSocketInodes(dir);
    expect(started).toHaveLength(1);
  });

  it('ends its worker after idleMs without work, and starts another for the next read', async () => {
    const reader = new WorkerFileReader(50);
    const lines: string[] = [];
    await reader.read(file, (text) => lines.push(text), { maxBytes: 1000 });
    expect(lines.join('')).toBe('a\nb\n');
    expect(started).toHaveLength(1);
    expect(await ended(started[0]!)).toBe(1);
    await reader.read(file, (text) => lines.push(text), { maxBytes: 1000 });
    expect(lines.join('')).toBe('a\nb\na\nb\n');
    expect(started).toHaveLength(2);
  });

  it('keeps its worker while reads follow each other within idleMs', async () => {
    const reader = new WorkerFileReader(1000);
    for (let i = 0; i < 3; i++) {
      await reader.read(file, () => undefined, { maxBytes: 1000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(started).toHaveLength(1);
  });
});
