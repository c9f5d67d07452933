import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { whyNoPrograms } from '../needs-program.js';
import { CLI } from './parked-namespace.js';

// The built CLI against state directories made real for root: a read-only and a full tmpfs (root
// bypasses permission bits, not a read-only mount or a full file system), each mounted inside a
// private mount namespace (unshare --mount), so the mount disappears with the process whatever
// happens; another user's process (setpriv to nobody) swapping links into the state directory; a
// state file its own (unprivileged) user cannot read. Every run is in a fresh network namespace
// (unshare --net): its socket table is empty, so `check` is OK (exit 0) unless the state file
// decides otherwise.

const NOBODY = 65534;

function whyNotRunnable(): string | undefined {
  if (process.platform !== 'linux') return 'Linux only (mount and user namespaces)';
  if (process.geteuid?.() !== 0) return 'needs root (mounts, namespaces, another uid)';
  const missing = whyNoPrograms(['unshare', 'util-linux'], ['setpriv', 'util-linux']);
  if (missing) return missing;
  try {
    execFileSync('unshare', ['--mount', '--net', '--', 'true'], { stdio: 'ignore' });
    execFileSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', 'true'], { stdio: 'ignore' });
  } catch (error) {
    return `unshare --mount --net or setpriv not usable here (${(error as Error).message.split('\n')[0]})`;
  }
  return undefined;
}

const skipReason = whyNotRunnable();
if (skipReason) console.warn(`skipping state file end-to-end tests: ${skipReason}`);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `tcpdwell ARGS` in new mount and network namespaces, after SETUP (a fixed script; its data comes
 * in the environment), as `runAs` when given. What the state directory holds afterwards is copied
 * to $OUT, since the tmpfs goes with the namespace.
 */
function inNamespaces(setup: string, env: Record<string, string>, args: string[], runAs?: number): Promise<Run> {
  const as = runAs === undefined ? [] : ['setpriv', '--reuid', String(runAs), '--regid', String(runAs), '--clear-groups', '--'];
  const script = `set -e\n${setup}\nset +e\n"$@"\ncode=$?\nif [ -n "$OUT" ]; then ls -A "$STATE_DIR" > "$OUT/.listing"; cp -a "$STATE_DIR"/check.json* "$OUT"/ 2>/dev/null; fi\nexit $code\n`;
  return new Promise((resolve) => {
    execFile('unshare', ['--mount', '--net', '--', 'sh', '-c', script, 'sh', ...as, process.execPath, CLI, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(skipReason !== undefined)('the state file on real file systems and against another user', () => {
  let scratch = '';
  let seed = '';
  let seedText = '';
  const swappers: ChildProcess[] = [];

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tcpdwell-e2e-statefile-'));
    await chmod(scratch, 0o755); // nobody reaches its own directory below
    // A real state file, written by a first run.
    seed = join(scratch, 'seed', 'check.json');
    const first = await inNamespaces('', {}, ['check', '--source', 'procfs', '--state-file', seed]);
    expect(first).toEqual({ code: 0, stdout: '', stderr: '' });
    seedText = await readFile(seed, 'utf8');
    expect(JSON.parse(seedText)).toMatchObject({ format: 'tcpdwell-check-state' });
  }, 30_000);

  afterEach(async () => {
    for (const swapper of swappers.splice(0)) {
      const exited = new Promise((resolve) => swapper.once('exit', resolve));
      process.kill(-swapper.pid!, 'SIGKILL'); // its own process group: the loop and the ln/mv it runs
      await exited;
    }
  });

  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function outDir(name: string): Promise<string> {
    const out = join(scratch, name);
    await mkdir(out);
    return out;
  }

  // Behaviour changed (session 10): nothing flagged with history not saved is UNKNOWN (exit 3), not OK.
  it('a read-only state directory: the report (UNKNOWN, exit 3: OK is not proven), one note in the Nagios long output; the file is kept', async () => {
    const out = await outDir('ro-out');
    const stateDir = await outDir('ro');
    const setup = `mount -t tmpfs -o size=1m,mode=0700 tcpdwell-statefile-ro "$STATE_DIR"\ncp "$SEED" "$STATE_DIR/check.json"\nmount -o remount,ro "$STATE_DIR"`;
    const run = await inNamespaces(setup, { STATE_DIR: stateDir, SEED: seed, OUT: out }, ['check', '--source', 'procfs', '--format', 'nagios', '--state-file', join(stateDir, 'check.json')]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(3);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `TCPDWELL UNKNOWN - nothing flagged, but this run's history was not saved (see the state file note): the next run cannot tell what is new or how long a session has dwelt (source procfs)`,
    );
    expect(lines.slice(1)).toEqual([`cannot lock state file ${join(stateDir, 'check.json')} (EROFS: read-only file system); history is read but not saved this run`]);
    expect(await readFile(join(out, 'check.json'), 'utf8')).toBe(seedText);
    expect(await readFile(join(out, '.listing'), 'utf8')).toBe('check.json\n');
    expect(await readdir(stateDir)).toEqual([]); // the mount went with the namespace
  }, 30_000);

  it('a full state directory: the report (UNKNOWN, exit 3), one note; the previous file is kept and no temporary is left', async () => {
    const out = await outDir('full-out');
    const stateDir = await outDir('full');
    const setup = `mount -t tmpfs -o size=256k,mode=0700 tcpdwell-statefile-full "$STATE_DIR"\ncp "$SEED" "$STATE_DIR/check.json"\ndd if=/dev/zero of="$STATE_DIR/filler" bs=4096 2>/dev/null || true`;
    const path = join(stateDir, 'check.json');
    const run = await inNamespaces(setup, { STATE_DIR: stateDir, SEED: seed, OUT: out }, ['check', '--source', 'procfs', '--state-file', path]);
    expect(run).toEqual({
      code: 3,
      stdout: `tcpdwell UNKNOWN - nothing flagged, but this run's history was not saved (see the state file note): the next run cannot tell what is new or how long a session has dwelt (source procfs)\n`,
      stderr: `tcpdwell: cannot save state file ${path} (ENOSPC: no space left on device); the previous file is kept, and this run's history and alerts are not recorded\n`,
    });
    expect(await readFile(join(out, 'check.json'), 'utf8')).toBe(seedText);
    expect(await readFile(join(out, '.listing'), 'utf8')).toBe('check.json\nfiller\n');
  }, 30_000);

  it("another user's process swapping links into the state directory cannot make root's check write through them", async () => {
    // root's own, valuable file: what the link points at.
    const precious = join(scratch, 'precious.json');
    await writeFile(precious, seedText, { mode: 0o644 });
    const theirs = join(scratch, 'theirs');
    await mkdir(theirs, { mode: 0o755 });
    await chown(theirs, NOBODY, NOBODY);
    const path = join(theirs, 'check.json');
    // nobody keeps check.json a link to root's file, replacing it over and over (rename is atomic).
    const swapper = spawn(
      'setpriv',
      ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', 'sh', '-c', 'while :; do ln -sfn "$1" "$2.new" && mv -Tf "$2.new" "$2"; done', 'sh', precious, path],
      { detached: true, stdio: 'ignore' },
    );
    swappers.push(swapper);
    while (!(await lstat(path).catch(() => undefined))?.isSymbolicLink()) await delay(20);
    expect((await lstat(path)).uid).toBe(NOBODY);

    const run = await inNamespaces('', {}, ['check', '--source', 'procfs', '--state-file', path]);
    const after = await stat(precious);
    expect([after.uid, after.mode & 0o777]).toEqual([0, 0o644]);
    expect(await readFile(precious, 'utf8')).toBe(seedText);
    expect(run).toEqual({ code: 78, stdout: '', stderr: `tcpdwell: refusing state directory ${theirs}: owned by uid ${NOBODY}, not by the running user (uid 0)\n` });
  }, 30_000);

  it('a state file its own (unprivileged) user cannot read: the report (UNKNOWN, exit 3), a note, and the file is not replaced', async () => {
    const mine = join(scratch, 'nobody-state');
    await mkdir(mine, { mode: 0o700 });
    const path = join(mine, 'check.json');
    await writeFile(path, seedText, { mode: 0o200 });
    await chown(mine, NOBODY, NOBODY);
    await chown(path, NOBODY, NOBODY);
    const run = await inNamespaces('', { HOME: mine }, ['check', '--source', 'procfs', '--state-file', path], NOBODY);
    expect(run).toEqual({
      code: 3,
      stdout: `tcpdwell UNKNOWN - nothing flagged, but this run's history was not saved (see the state file note): the next run cannot tell what is new or how long a session has dwelt (source procfs)\n`,
      stderr: `tcpdwell: cannot read state file ${path} (EACCES: permission denied); starting without history, the file is left as it is\n`,
    });
    expect(await readFile(path, 'utf8')).toBe(seedText);
    expect((await stat(path)).mode & 0o777).toBe(0o200);
    expect((await readdir(mine)).sort()).toEqual(['check.json']);
  }, 30_000);
});
