import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodePlatform } from '../../src/platform/platform.js';

// readLines on real files, through the worker thread: lines whole across its 256 KiB chunks.
describe('nodePlatform().readLines', () => {
  const platform = nodePlatform();
  const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-read-lines-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // Multi-byte characters at every offset, so some straddle a chunk boundary.
  const lineText = (i: number) => `${i} ${'ü€'.repeat(i % 13)}${'x'.repeat(i % 89)}`;
  const COUNT = 150_000;
  const big = join(dir, 'big.txt');
  writeFileSync(big, `${Array.from({ length: COUNT }, (_, i) => lineText(i)).join('\r\n')}`); // CRLF, no final newline

  const readAll = async (path: string) => {
    const lines: string[] = [];
    await platform.readLines(path, (line) => lines.push(line));
    return lines;
  };

  it('hands over every line whole and in order, CRLF trimmed, the last one without a newline too', async () => {
    const lines = await readAll(big);
    expect(lines).toHaveLength(COUNT);
    expect(lines.every((line, i) => line === lineText(i))).toBe(true);
  });

  it('keeps two reads at once apart', async () => {
    const small = join(dir, 'small.txt');
    writeFileSync(small, 'a\nb\n');
    const [first, second] = await Promise.all([readAll(big), readAll(small)]);
    expect(first).toHaveLength(COUNT);
    expect(second).toEqual(['a', 'b']);
  });

  it('rejects with the error code (ENOENT, EISDIR), and an error thrown by the handler rejects with that error', async () => {
    await expect(readAll(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readAll(dir)).rejects.toMatchObject({ code: 'EISDIR' });
    let seen = 0;
    await expect(
      platform.readLines(big, () => {
        if (++seen === 1000) throw new Error('parser gave up');
      }),
    ).rejects.toThrow('parser gave up');
    expect(await readAll(big)).toHaveLength(COUNT); // the reader still works afterwards
  });

  it('does not keep a finished process alive', () => {
    const code = `import { nodePlatform } from './src/platform/platform.ts';
      let n = 0; await nodePlatform().readLines(${JSON.stringify(big)}, () => n++); console.log(n);`;
    const started = Date.now();
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe(String(COUNT));
    expect(run.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
