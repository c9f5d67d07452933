import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, exitCodeForError } from '../../src/cli/exit-codes.js';
import { StateFile, StateFileLockedError, defaultStateFilePath } from '../../src/platform/state-file.js';

describe('StateFile', () => {
  it('refuses a second holder while the first holds the lock, and frees it on unlock', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tcpdwell-lock-'));
    const path = join(dir, 'nested', 'state.json');
    const first = new StateFile(path);
    await first.lock();
    const second = new StateFile(path);
    const refused = await second.lock(300).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StateFileLockedError);
    expect((refused as Error).message).toBe(`another tcpdwell run holds ${path}.lock`);
    expect(exitCodeForError(refused)).toBe(ExitCode.UNKNOWN);
    await first.unlock();
    await second.lock(300);
    await second.unlock();
  });

  it('writes atomically (no temporary file left) with owner-only permissions, and sets a bad file aside', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tcpdwell-state-'));
    const file = new StateFile(join(dir, 'state.json'));
    expect(await file.read()).toBeUndefined();
    await file.write('{"a":1}\n');
    expect(await readFile(file.path, 'utf8')).toBe('{"a":1}\n');
    expect(await readdir(dir)).toEqual(['state.json']);
    expect((await stat(file.path)).mode & 0o777).toBe(0o600);
    await writeFile(file.path, 'garbage');
    const aside = await file.setAside(Date.parse('2026-11-21T05:30:00Z'));
    expect(aside).toBe(`${file.path}.corrupt-2026-11-21T053000000Z`);
    expect(await file.read()).toBeUndefined();
  });

  it('defaults to the XDG state directory', () => {
    expect(defaultStateFilePath({ XDG_STATE_HOME: '/var/lib/x', HOME: '/root' })).toBe('/var/lib/x/tcpdwell/check-state.json');
    expect(defaultStateFilePath({ HOME: '/home/op' })).toBe('/home/op/.local/state/tcpdwell/check-state.json');
    expect(defaultStateFilePath({ XDG_STATE_HOME: 'relative', HOME: '/home/op' })).toBe('/home/op/.local/state/tcpdwell/check-state.json');
  });
});
