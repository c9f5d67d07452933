import { describe, expect, it } from 'vitest';
import { nodePlatform } from '../../src/platform/platform.js';
import { warnSkip, whyNoProgram } from '../needs-program.js';

const NO_PYTHON = whyNoProgram('python3', 'python3');
warnSkip('runLines on a real python3 writer', NO_PYTHON);

// runLines on real processes: lines must come out whole across pipe-chunk boundaries.
describe('nodePlatform().runLines', () => {
  const platform = nodePlatform();

  it.skipIf(NO_PYTHON !== undefined)('hands over every line whole, across many 64 KB chunks, CRLF trimmed, the last line without a newline too', async () => {
    const lines: string[] = [];
    const script = 'import sys\nfor i in range(200000): sys.stdout.write("line %d %s\\r\\n" % (i, "x" * (i % 97)))\nsys.stdout.write("tail-without-newline")';
    const result = await platform.runLines(['python3', '-c', script], (line) => lines.push(line), { timeoutMs: 30_000 });
    expect(result).toEqual({ stderr: '', exitCode: 0 });
    expect(lines).toHaveLength(200_001);
    expect(lines[0]).toBe('line 0 ');
    expect(lines[123_456]).toBe(`line 123456 ${'x'.repeat(123_456 % 97)}`);
    expect(lines.every((l, i) => i === 200_000 || l === `line ${i} ${'x'.repeat(i % 97)}`)).toBe(true);
    expect(lines[200_000]).toBe('tail-without-newline');
  });

  it('a missing program rejects with ENOENT; an exit code and stderr are reported; a hung one times out', async () => {
    await expect(platform.runLines(['/nonexistent/tcpdwell-nothing'], () => undefined)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await platform.runLines(['sh', '-c', 'echo out; echo err >&2; exit 3'], () => undefined)).toEqual({ stderr: 'err\n', exitCode: 3 });
    await expect(platform.runLines(['sleep', '5'], () => undefined, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('an error thrown by the line handler stops the command and rejects with that error', async () => {
    const started = Date.now();
    const run = platform.runLines(['sh', '-c', 'echo one; echo two; sleep 5; echo three'], (line) => {
      if (line === 'two') throw new Error('parser gave up');
    });
    await expect(run).rejects.toThrow('parser gave up');
    expect(Date.now() - started).toBeLessThan(4000);
  });
});
