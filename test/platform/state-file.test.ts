import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, exitCodeForError } from '../../src/cli/exit-codes.js';
import { MAX_STATE_FILE_BYTES, StateFile, StateFileLockedError, StateFileRefusedError, StateFileUnusableError, defaultStateFilePath, readStateText } from '../../src/platform/state-file.js';

const isRoot = process.geteuid?.() === 0;
const NOBODY = 65534;

let dir: string;
const held: StateFile[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tcpdwell-state-'));
});
afterEach(async () => {
  await Promise.all(held.splice(0).map((f) => f.unlock()));
  await rm(dir, { recursive: true, force: true });
});

/** A StateFile, locked, released after the test. */
async function lockedAt(path: string): Promise<StateFile> {
  const file = new StateFile(path);
  held.push(file);
  await file.lock(300);
  return file;
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('expected a failure');
  return outcome;
}

describe('StateFile', () => {
  it('refuses a second holder while the first holds the lock, and frees it on unlock', async () => {
    const path = join(dir, 'nested', 'state.json');
    const first = new StateFile(path);
    await first.lock();
    const second = new StateFile(path);
    const refused = await failureOf(second.lock(300));
    expect(refused).toBeInstanceOf(StateFileLockedError);
    expect(refused.message).toBe(`another tcpdwell run holds ${path}.lock`);
    expect(exitCodeForError(refused)).toBe(ExitCode.UNKNOWN);
    await first.unlock();
    await second.lock(300);
    await second.unlock();
    expect(await readdir(join(dir, 'nested'))).toEqual([]);
  });

  it('writes atomically (no temporary file left) with owner-only permissions, and sets a bad file aside', async () => {
    const file = await lockedAt(join(dir, 'state.json'));
    expect(await file.read()).toBeUndefined();
    await file.write('{"a":1}\n');
    expect(await readFile(file.path, 'utf8')).toBe('{"a":1}\n');
    expect((await readdir(dir)).sort()).toEqual(['state.json', 'state.json.lock']);
    expect((await stat(file.path)).mode & 0o777).toBe(0o600);
    await writeFile(file.path, 'garbage');
    const aside = await file.setAside(Date.parse('2026-11-21T05:30:00Z'));
    expect(aside).toBe(`${file.path}.corrupt-2026-11-21T053000000Z`);
    expect(await file.read()).toBeUndefined();
    await file.write('{"b":2}\n');
    expect(await readFile(file.path, 'utf8')).toBe('{"b":2}\n');
    expect(await readFile(aside, 'utf8')).toBe('garbage');
  });

  it('takes over the lock and removes the temporaries of a run that was killed', async () => {
    const path = join(dir, 'state.json');
    // A separate process takes the lock, leaves a temporary as a run killed mid-write would, and is killed.
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { mkdirSync, writeFileSync } = await import('node:fs');
         const { readFileSync } = await import('node:fs');
         const stat = readFileSync('/proc/self/stat', 'utf8');
         const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
         const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
         mkdirSync(process.argv[1] + '.lock');
         writeFileSync(process.argv[1] + '.lock/owner', JSON.stringify({ pid: process.pid, boot, start }));
         writeFileSync(process.argv[1] + '.tmp-' + process.pid + '-0a0b0c0d0e0f', '{"half":');
         console.log('ready');
         setInterval(() => {}, 1000);`,
        path,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    // While it lives, its lock holds.
    expect(await failureOf(new StateFile(path).lock(200))).toBeInstanceOf(StateFileLockedError);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect((await readdir(dir)).sort()).toEqual([`state.json.lock`, `state.json.tmp-${child.pid}-0a0b0c0d0e0f`]);
    const file = await lockedAt(path);
    expect(await readdir(dir)).toEqual(['state.json.lock']);
    expect(JSON.parse(await readFile(join(dir, 'state.json.lock', 'owner'), 'utf8'))).toMatchObject({ pid: process.pid });
    await file.write('{}\n');
  });

  it('takes over a lock directory with no owner record only once it is old (killed between mkdir and writing the owner)', async () => {
    const path = join(dir, 'state.json');
    await mkdir(`${path}.lock`);
    expect(await failureOf(new StateFile(path).lock(200))).toBeInstanceOf(StateFileLockedError);
    const old = new Date(Date.now() - 60_000);
    const { utimes } = await import('node:fs/promises');
    await utimes(`${path}.lock`, old, old);
    await lockedAt(path);
  });

  it('refuses a state file that is a symbolic link, and leaves its target alone', async () => {
    const target = join(dir, 'precious');
    await writeFile(target, 'root:x:0:0\n', { mode: 0o644 });
    const path = join(dir, 'state.json');
    await symlink(target, path);
    const refused = await failureOf(new StateFile(path).lock(300));
    expect(refused).toBeInstanceOf(StateFileRefusedError);
    expect(refused.message).toBe(`refusing state file ${path}: it is a symbolic link`);
    expect(exitCodeForError(refused)).toBe(ExitCode.CONFIG);
    expect(await readFile(target, 'utf8')).toBe('root:x:0:0\n');
    expect((await stat(target)).mode & 0o777).toBe(0o644);
    expect((await readdir(dir)).sort()).toEqual(['precious', 'state.json']);
  });

  it('replaces a link swapped in between read and write, never its target', async () => {
    const target = join(dir, 'precious');
    await writeFile(target, 'keep me\n', { mode: 0o644 });
    const path = join(dir, 'state.json');
    await writeFile(path, '{"old":true}\n', { mode: 0o600 });
    const file = await lockedAt(path);
    expect(await file.read()).toBe('{"old":true}\n');
    await rm(path);
    await symlink(target, path);
    await file.write('{"new":true}\n');
    expect(await readFile(target, 'utf8')).toBe('keep me\n');
    expect((await stat(target)).mode & 0o777).toBe(0o644);
    expect((await lstat(path)).isFile()).toBe(true);
    expect(await readFile(path, 'utf8')).toBe('{"new":true}\n');
  });

  it('refuses a state file that becomes a link between its lock and its read', async () => {
    const target = join(dir, 'precious');
    await writeFile(target, 'keep me\n');
    const path = join(dir, 'state.json');
    const file = await lockedAt(path);
    await symlink(target, path);
    expect(await failureOf(file.read())).toBeInstanceOf(StateFileRefusedError);
    expect(await readFile(target, 'utf8')).toBe('keep me\n');
  });

  it.skipIf(process.platform !== 'linux')('writes into the directory it checked, even when that directory is swapped for a link afterwards', async () => {
    const stateDir = join(dir, 'state');
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(stateDir, { mode: 0o700 });
    await mkdir(elsewhere, { mode: 0o700 });
    const file = await lockedAt(join(stateDir, 'check.json'));
    expect(await file.read()).toBeUndefined();
    await rename(stateDir, join(dir, 'moved'));
    await symlink(elsewhere, stateDir);
    await file.write('{}\n');
    expect(await readdir(elsewhere)).toEqual([]);
    expect((await readdir(join(dir, 'moved'))).sort()).toEqual(['check.json', 'check.json.lock']);
  });

  describe.skipIf(!isRoot)('ownership and permissions (as root: chown needs it)', () => {
    it('refuses a directory another user owns or others can write, before reading or creating anything', async () => {
      const theirs = join(dir, 'theirs');
      await mkdir(theirs, { mode: 0o755 });
      await chown(theirs, NOBODY, NOBODY);
      const refused = await failureOf(new StateFile(join(theirs, 'state.json')).lock(300));
      expect(refused).toBeInstanceOf(StateFileRefusedError);
      expect(refused.message).toBe(`refusing state directory ${theirs}: owned by uid ${NOBODY}, not by the running user (uid 0)`);
      for (const mode of [0o777, 0o1777, 0o770]) {
        const open = join(dir, `open-${mode.toString(8)}`);
        await mkdir(open);
        await chmod(open, mode);
        const error = await failureOf(new StateFile(join(open, 'state.json')).lock(300));
        expect(error).toBeInstanceOf(StateFileRefusedError);
        expect(error.message).toBe(`refusing state directory ${open}: writable by others (mode ${mode.toString(8).padStart(4, '0')}); use a directory only its owner can write`);
        expect(await readdir(open)).toEqual([]);
      }
    });

    it('refuses a directory under one another user could replace, or reached through their link', async () => {
      const theirs = join(dir, 'theirs');
      await mkdir(join(theirs, 'state'), { recursive: true, mode: 0o700 });
      await chown(theirs, NOBODY, NOBODY);
      const above = await failureOf(new StateFile(join(theirs, 'state', 'check.json')).lock(300));
      expect(above).toBeInstanceOf(StateFileRefusedError);
      expect(above.message).toBe(`refusing state directory ${join(theirs, 'state')}: ${theirs} above it is owned by uid ${NOBODY}, who could replace it`);

      const mine = join(dir, 'mine');
      await mkdir(mine, { mode: 0o700 });
      const link = join(dir, 'link');
      await symlink(mine, link);
      await execFileSync('chown', ['-h', `${NOBODY}:${NOBODY}`, link]);
      const viaLink = await failureOf(new StateFile(join(link, 'check.json')).lock(300));
      expect(viaLink).toBeInstanceOf(StateFileRefusedError);
      expect(viaLink.message).toBe(`refusing state directory ${link}: ${link} is a symbolic link owned by uid ${NOBODY}`);
      expect(await readdir(mine)).toEqual([]);
    });

    it("accepts a directory above writable by the user's own primary group only (umask 002's ~/.local), not by another group", async () => {
      const local = join(dir, 'local');
      await mkdir(join(local, 'state'), { recursive: true, mode: 0o700 });
      await chmod(local, 0o775); // root:root, as `mkdir` under umask 002 makes it
      await lockedAt(join(local, 'state', 'check.json'));
      await Promise.all(held.splice(0).map((f) => f.unlock()));
      await chown(local, 0, NOBODY);
      const refused = await failureOf(new StateFile(join(local, 'state', 'check.json')).lock(300));
      expect(refused.message).toBe(`refusing state directory ${join(local, 'state')}: ${local} above it is writable by others (mode 0775), who could replace it`);
    });

    it('refuses a state file another user owns or others can write, and leaves it as it is', async () => {
      const path = join(dir, 'state.json');
      await writeFile(path, '{"theirs":1}\n', { mode: 0o600 });
      await chown(path, NOBODY, NOBODY);
      const file = await lockedAt(path);
      const refused = await failureOf(file.read());
      expect(refused).toBeInstanceOf(StateFileRefusedError);
      expect(refused.message).toBe(`refusing state file ${path}: owned by uid ${NOBODY}, not by the running user (uid 0)`);
      await chown(path, 0, 0);
      await chmod(path, 0o666);
      expect((await failureOf(file.read())).message).toBe(`refusing state file ${path}: writable by others (mode 0666)`);
      expect(await readFile(path, 'utf8')).toBe('{"theirs":1}\n');
    });
  });

  describe('what could not be read is never replaced', () => {
    // Device nodes made for the test (same numbers as /dev/null and /dev/zero): a broken build must not replace the host's.
    it.skipIf(!isRoot).each([
      ['null', 3],
      ['zero', 5],
    ])('a %s device: not opened, not locked beside, not replaced', async (name, minor) => {
      const device = join(dir, name);
      execFileSync('mknod', ['-m', '666', device, 'c', '1', String(minor)]);
      const before = await stat(device);
      const file = new StateFile(device);
      const error = await failureOf(file.lock(300));
      expect(error).toBeInstanceOf(StateFileUnusableError);
      expect(error.message).toBe(`state file ${device} is a character device, not a regular file; it is not used and not replaced`);
      expect(exitCodeForError(error)).toBe(ExitCode.SOFTWARE); // never reaches the top: check turns it into a note
      expect(await file.read()).toBeUndefined();
      await file.write('{}\n');
      await file.unlock();
      const after = await stat(device);
      expect(after.isCharacterDevice()).toBe(true);
      expect([after.ino, after.rdev]).toEqual([before.ino, before.rdev]);
      expect(await readdir(dir)).toEqual([name]);
    });

    it('a FIFO: not opened (the run does not hang), not replaced', async () => {
      const path = join(dir, 'state.json');
      execFileSync('mkfifo', ['-m', '600', path]);
      const file = new StateFile(path);
      expect((await failureOf(file.lock(300))).message).toBe(`state file ${path} is a FIFO, not a regular file; it is not used and not replaced`);
      await file.write('{}\n');
      await file.unlock();
      expect((await lstat(path)).isFIFO()).toBe(true);
      expect(await readdir(dir)).toEqual(['state.json']);
    });

    it('a directory at the state file name: not replaced', async () => {
      const path = join(dir, 'state.json');
      await mkdir(path);
      await writeFile(join(path, 'inside'), 'x');
      const file = new StateFile(path);
      expect((await failureOf(file.lock(300))).message).toBe(`state file ${path} is a directory, not a regular file; it is not used and not replaced`);
      await file.write('{}\n');
      expect(await readdir(path)).toEqual(['inside']);
    });

    it('a big (sparse) file: not read, not replaced', async () => {
      const path = join(dir, 'state.json');
      await writeFile(path, '{', { mode: 0o600 });
      await truncate(path, 600 * 1024 * 1024);
      const file = await lockedAt(path);
      const error = await failureOf(file.read());
      expect(error).toBeInstanceOf(StateFileUnusableError);
      expect(error.message).toBe(`state file ${path} is ${600 * 1024 * 1024} bytes, more than a state file holds (${MAX_STATE_FILE_BYTES}); it is not used and not replaced`);
      expect(file.writable).toBe(false);
      await file.write('{}\n');
      expect((await stat(path)).size).toBe(600 * 1024 * 1024);
      expect(await readdir(dir)).toEqual(['state.json', 'state.json.lock']);
    });

    it.skipIf(!isRoot)('a corrupt file that cannot be set aside (immutable, chattr +i): not replaced either', async () => {
      const path = join(dir, 'state.json');
      await writeFile(path, 'garbage', { mode: 0o600 });
      try {
        execFileSync('chattr', ['+i', path], { stdio: 'ignore' });
      } catch {
        console.warn(`skipped: chattr +i is not supported on the file system of ${dir}`);
        return;
      }
      try {
        const file = await lockedAt(path);
        expect(await file.read()).toBe('garbage');
        const error = await failureOf(file.setAside(Date.parse('2026-11-21T05:30:00Z')));
        expect(error).toBeInstanceOf(StateFileUnusableError);
        expect(error.message).toBe(`state file ${path} is unusable and cannot be set aside (EPERM: operation not permitted); it is left as it is and not replaced`);
        expect(file.writable).toBe(false);
        await file.write('{}\n');
        expect(await readFile(path, 'utf8')).toBe('garbage');
      } finally {
        execFileSync('chattr', ['-i', path]);
      }
    });

    it('readStateText (explain) refuses the same kinds with a reason, reads a regular file', async () => {
      const path = join(dir, 'state.json');
      await writeFile(path, '{"x":1}');
      expect(await readStateText(path)).toBe('{"x":1}');
      await symlink(path, join(dir, 'link'));
      expect((await failureOf(readStateText(join(dir, 'link')))).message).toBe('a symbolic link, not followed');
      if (isRoot) {
        execFileSync('mknod', [join(dir, 'zero'), 'c', '1', '5']);
        expect((await failureOf(readStateText(join(dir, 'zero')))).message).toBe('a character device, not a regular file');
      }
      execFileSync('mkfifo', [join(dir, 'fifo')]);
      expect((await failureOf(readStateText(join(dir, 'fifo')))).message).toBe('a FIFO, not a regular file');
    });
  });

  it('defaults to the XDG state directory', () => {
    expect(defaultStateFilePath({ XDG_STATE_HOME: '/var/lib/x', HOME: '/root' })).toBe('/var/lib/x/tcpdwell/check-state.json');
    expect(defaultStateFilePath({ HOME: '/home/op' })).toBe('/home/op/.local/state/tcpdwell/check-state.json');
    expect(defaultStateFilePath({ XDG_STATE_HOME: 'relative', HOME: '/home/op' })).toBe('/home/op/.local/state/tcpdwell/check-state.json');
  });
});
