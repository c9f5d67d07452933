import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { FakePlatform, fakeContext, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// check and explain with state files that are not what they should be: the check still reports
// (exit code = status) with one note about the state file, nothing it could not read is
// replaced, and a state file that is a link is refused (exit 78). No case exits 70.

const SS_STUCK = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
const WARNING_LINE =
  'WARNING half-open: SYN_SENT 127.0.0.1:56268 -> 127.0.0.1:44865 in state 11s > 10s (rule default, dwell kernel): the listener 127.0.0.1:44865 has a full accept queue and drops SYNs';

let platform: FakePlatform;
let dir: string;

beforeEach(async () => {
  platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
  platform.commands = [ssAnswers(SS_STUCK)];
  dir = await mkdtemp(join(tmpdir(), 'tcpdwell-statecheck-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[]) {
  const context = fakeContext(platform, { HOME: dir });
  const code = await runCli(argv, context, '0.1.0');
  return { code, out: context.out(), err: context.err() };
}

/** Tests use device nodes they make (same major/minor as /dev/null, /dev/zero), never the host's: code that writes over one must not break the machine. */
const canMknod = process.platform === 'linux' && process.geteuid?.() === 0;
async function deviceNode(name: string, minor: number): Promise<string> {
  const path = join(dir, name);
  execFileSync('mknod', ['-m', '666', path, 'c', '1', String(minor)]);
  return path;
}

const check = (stateFile: string, ...extra: string[]) => run(['check', '--state-file', stateFile, '--half-open', '10s', ...extra]);

describe('check with a state file it cannot use still reports, with one note', () => {
  it('a state directory that is a file', async () => {
    const file = join(dir, 'state');
    await writeFile(file, 'not a directory');
    const result = await check(join(file, 'check.json'));
    expect(result.code).toBe(1);
    expect(result.out.split('\n')[0]).toBe(WARNING_LINE);
    expect(result.err).toMatch(/^tcpdwell: state directory .*\/state cannot be created \((EEXIST|ENOTDIR): [^)]*\); history is not kept this run\n$/);
    expect(await readFile(file, 'utf8')).toBe('not a directory');
  });

  it('a missing state directory under a file (it cannot be created)', async () => {
    await writeFile(join(dir, 'file'), 'x');
    const result = await check(join(dir, 'file', 'deeper', 'state', 'check.json'));
    expect(result.code).toBe(1);
    expect(result.out.split('\n')[0]).toBe(WARNING_LINE);
    expect(result.err).toMatch(/^tcpdwell: state directory .*\/file\/deeper\/state cannot be created \(ENOTDIR: [^)]*\); history is not kept this run\n$/);
  });

  // Break-it pass (session 11): `/proc/version` said "cannot lock … (ENOENT: no such file)" and
  // "cannot be set aside (ENOENT)"; a directory under /proc to be made hung (Node's recursive mkdir
  // retries ENOENT forever). Read only: nothing under /proc or /sys can be created.
  it.skipIf(process.platform !== 'linux').each([
    [
      '/proc/version',
      /^tcpdwell: state file \/proc\/version cannot be kept in \/proc, the kernel's proc file system, where no file can be created \(ENOENT\); give --state-file a path in a directory of your own; history is not kept this run\n$/,
    ],
    [
      '/proc/tcpdwell-nodir/check.json',
      /^tcpdwell: state directory \/proc\/tcpdwell-nodir cannot be created: it would be in the kernel's proc file system, where no file or directory can be made \(ENOENT\); give --state-file a path in a directory of your own; history is not kept this run\n$/,
    ],
  ])('%s: one line saying what is wrong; the report and its status stand', async (path, line) => {
    const result = await check(path);
    expect(result.err).toMatch(line);
    expect(result.code).toBe(1);
    expect(result.out.split('\n')[0]).toBe(WARNING_LINE);
    // Nothing flagged: not saved is not OK (README "The state file"): UNKNOWN.
    const calm = await run(['check', '--state-file', path, '--half-open', '1h']);
    expect(calm.code).toBe(3);
  });

  it.skipIf(!canMknod).each([
    ['null', 3],
    ['zero', 5],
  ])('/dev/%s (a node of its own: a broken build must not replace the host’s) as the state file: used as no state, left as it is', async (name, minor) => {
    const device = await deviceNode(name, minor);
    const result = await check(device);
    expect((await stat(device)).isCharacterDevice()).toBe(true);
    expect(await readdir(dir)).toEqual([name]);
    expect(result.code).toBe(1);
    expect(result.out.split('\n')[0]).toBe(WARNING_LINE);
    expect(result.err).toBe(`tcpdwell: state file ${device} is a character device, not a regular file; it is not used and not replaced\n`);
  });

  it('a FIFO: the run does not hang on it, and it stays a FIFO', async () => {
    const fifo = join(dir, 'check.json');
    execFileSync('mkfifo', [fifo]);
    const result = await check(fifo);
    expect(result.code).toBe(1);
    expect(result.err).toBe(`tcpdwell: state file ${fifo} is a FIFO, not a regular file; it is not used and not replaced\n`);
    expect((await stat(fifo)).isFIFO()).toBe(true);
  });

  it('a 600 MB (sparse) file: not read, not replaced', async () => {
    const big = join(dir, 'check.json');
    await writeFile(big, '{"format":"tcpdwell-check-state"', { mode: 0o600 });
    await truncate(big, 600 * 1024 * 1024);
    const result = await check(big);
    expect(result.code).toBe(1);
    expect(result.err).toBe(`tcpdwell: state file ${big} is 629145600 bytes, more than a state file holds (268435456); it is not used and not replaced\n`);
    expect((await stat(big)).size).toBe(629145600);
    expect((await readdir(dir)).sort()).toEqual(['check.json']);
  });

  it('with --format nagios the note is the last line of the long output (stdout), exit by status', async () => {
    const fifo = join(dir, 'check.json');
    execFileSync('mkfifo', [fifo]);
    const result = await check(fifo, '--format', 'nagios');
    expect(result.code).toBe(1);
    expect(result.err).toBe('');
    const lines = result.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TCPDWELL WARNING - 1 half-open of 25 connections \| half_open=1;;; /);
    expect(lines).toHaveLength(3); // status, the flagged session, the note
    expect(lines.at(-1)).toBe(`state file ${fifo} is a FIFO, not a regular file; it is not used and not replaced`);
  });

  it('with --json the report is complete on stdout and the note on stderr', async () => {
    const fifo = join(dir, 'check.json');
    execFileSync('mkfifo', [fifo]);
    const result = await check(fifo, '--json');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toMatchObject({ status: 'warning', source: 'ss' });
    expect(result.err).toBe(`tcpdwell: state file ${fifo} is a FIFO, not a regular file; it is not used and not replaced\n`);
  });
});

describe('check refuses a state file that is a link (exit 78), and touches nothing', () => {
  it('a link to a file of someone else’s: neither read, nor set aside, nor replaced', async () => {
    const precious = join(dir, 'precious');
    await writeFile(precious, 'root:x:0:0:root:/root:/bin/bash\n', { mode: 0o644 });
    const link = join(dir, 'check.json');
    await symlink(precious, link);
    const result = await check(link);
    expect((await readdir(dir)).sort()).toEqual(['check.json', 'precious']);
    expect(await readFile(precious, 'utf8')).toBe('root:x:0:0:root:/root:/bin/bash\n');
    expect((await stat(precious)).mode & 0o777).toBe(0o644);
    expect(result).toEqual({ code: 78, out: '', err: `tcpdwell: refusing state file ${link}: it is a symbolic link\n` });
  });

  it('with --format nagios: UNKNOWN on stdout, exit 3', async () => {
    const link = join(dir, 'check.json');
    await writeFile(join(dir, 'elsewhere'), 'x');
    await symlink(join(dir, 'elsewhere'), link);
    const result = await check(link, '--format', 'nagios');
    expect(result).toEqual({ code: 3, out: `TCPDWELL UNKNOWN - refusing state file ${link}: it is a symbolic link\n`, err: '' });
  });

  it.skipIf(process.geteuid?.() !== 0)('a state directory others can write', async () => {
    const open = join(dir, 'open');
    await mkdir(open, { mode: 0o777 });
    execFileSync('chmod', ['1777', open]);
    const result = await check(join(open, 'check.json'));
    expect(result).toEqual({ code: 78, out: '', err: `tcpdwell: refusing state directory ${open}: writable by others (mode 1777); use a directory only its owner can write\n` });
    expect(await readdir(open)).toEqual([]);
  });
});

describe('explain --state-file reads only regular files', () => {
  it.each([
    ['a FIFO', async (path: string) => execFileSync('mkfifo', [path]), 'a FIFO, not a regular file'],
    ['a link', async (path: string) => symlink(await deviceNode('zero', 5), path), 'a symbolic link, not followed'],
  ])('%s: a note, no history, no hang', { skip: !canMknod }, async (_kind, make, reason) => {
    const path = join(dir, 'check.json');
    await make(path);
    const result = await run(['explain', '1', '--state-file', path]);
    expect(result.code).toBe(0);
    expect(result.err).toBe(`tcpdwell: no history from ${path} (${reason})\n`);
    expect(result.out).not.toBe('');
  });
});

describe('check whose history could not be saved: OK is not proven (UNKNOWN, exit 3)', () => {
  const UNSAVED =
    "tcpdwell UNKNOWN - nothing flagged, but this run's history was not saved (see the state file note): the next run cannot tell what is new or how long a session has dwelt (source ss)";

  it('nothing flagged and a state directory that cannot be created: UNKNOWN with the reason, in text, JSON and Nagios', async () => {
    const file = join(dir, 'state');
    await writeFile(file, 'not a directory');
    const path = join(file, 'check.json');
    const text = await run(['check', '--state-file', path]);
    expect(text.code).toBe(3);
    expect(text.out).toBe(`${UNSAVED}\n`);
    expect(text.err).toMatch(/^tcpdwell: state directory .*\/state cannot be created \((EEXIST|ENOTDIR): [^)]*\); history is not kept this run\n$/);
    const json = await run(['check', '--state-file', path, '--json']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.out)).toMatchObject({ status: 'unknown', flagged: [], errors: [expect.stringMatching(/^nothing flagged, but this run's history was not saved/)] });
    const nagios = await run(['check', '--state-file', path, '--format', 'nagios']);
    expect(nagios.code).toBe(3);
    expect(nagios.out.split('\n')[0]).toMatch(/^TCPDWELL UNKNOWN - nothing flagged, but this run's history was not saved/);
  });

  it('nothing flagged with a state file saved: OK (exit 0), silent; --no-state keeps none and is OK too', async () => {
    expect(await run(['check', '--state-file', join(dir, 'check.json')])).toEqual({ code: 0, out: '', err: '' });
    expect(await run(['check', '--no-state'])).toEqual({ code: 0, out: '', err: '' });
  });

  it('a warning the table proves stands (exit 1), with the note', async () => {
    const file = join(dir, 'state');
    await writeFile(file, 'not a directory');
    const result = await check(join(file, 'check.json'));
    expect(result.code).toBe(1);
  });
});

describe("a flagged session missing from the next run's reading (reset, or closed since)", () => {
  it('is read once more at once: two readings without it resolve it; no false WARNING on one reading', async () => {
    const first = await check(join(dir, 'check.json'));
    expect(first.code).toBe(1);
    expect(first.out.split('\n')[0]).toBe(WARNING_LINE);
    // The SYN_SENT is gone (its line and its -i line) when the next run reads.
    const lines = SS_STUCK.split('\n');
    const at = lines.findIndex((l) => l.includes('127.0.0.1:56268'));
    const without = [...lines.slice(0, at), ...lines.slice(at + (lines[at + 1]?.startsWith('\t') ? 2 : 1))].join('\n');
    platform.commands = [ssAnswers(without)];
    const ranBefore = platform.ran.filter((argv) => argv[0] === 'ss').length;
    const second = await check(join(dir, 'check.json'));
    expect(platform.ran.filter((argv) => argv[0] === 'ss').length - ranBefore).toBe(2);
    expect(second.out).toContain('RESOLVED half-open: SYN_SENT 127.0.0.1:56268 -> 127.0.0.1:44865');
    expect(second.code).toBe(0);
  });
});

describe('a state file with impossible time stamps (break-it W1): the record is dropped with a note, never fatal, never a huge dwell', () => {
  /** The state file after one clean run, with `edit` applied to its first CLOSE_WAIT connection record. */
  let target = '';
  async function corrupted(edit: (c: Record<string, unknown>) => void): Promise<string> {
    const path = join(dir, 'check.json');
    expect((await check(path)).code).toBe(1);
    const data = JSON.parse(await readFile(path, 'utf8'));
    const record = data.tables[0].connections.find((c: { state: string }) => c.state === 'CLOSE_WAIT');
    target = `${record.local.address}:${record.local.port}-${record.remote.address}:${record.remote.port}`;
    edit(record);
    await writeFile(path, JSON.stringify(data));
    return path;
  }
  const NOTE = /state file .*check\.json: 1 record with an impossible time stamp or amount \(not finite, before 2000, or in the future\) dropped; the rest of the history is kept\n/;

  for (const [name, edit] of [
    ['stateSinceMs -1e300', (c: Record<string, unknown>) => void (c.stateSinceMs = -1e300)],
    ['stateSinceMs 0 (1970)', (c: Record<string, unknown>) => void (c.stateSinceMs = 0)],
    ['stateSinceMs 1e300 (far future)', (c: Record<string, unknown>) => void (c.stateSinceMs = 1e300)],
    ['a transition a day in the future', (c: Record<string, unknown>) => void ((c.transitions as { atMs: number }[])[0]!.atMs = platform.nowMs() + 86_400_000)],
    ['firstSeenMs before 2000', (c: Record<string, unknown>) => void (c.firstSeenMs = Date.UTC(1999, 11, 31))],
    ['bytesSent negative', (c: Record<string, unknown>) => void (c.bytesSent = -5)],
  ] as const) {
    it(`${name}: check --json reports (exit = status) with one note, and the next run reads clean`, async () => {
      const path = await corrupted(edit);
      const result = await check(path, '--json');
      expect(result.code).toBe(1);
      expect(result.err).toMatch(NOTE);
      const dwells = JSON.parse(result.out).flagged.map((c: { dwellSeconds: number }) => c.dwellSeconds);
      expect(Math.max(...dwells)).toBeLessThan(86_400);
      expect(await readFile(path, 'utf8')).not.toMatch(/e\+?300|"stateSinceMs":0[,}]/);
      const again = await check(path, '--json');
      expect(again.err).not.toMatch(/impossible/);
    });
  }

  it('explain CLOSE_WAIT and check (text, Nagios) with the -1e300 stamp: no crash, one note', async () => {
    const path = await corrupted((c) => void (c.stateSinceMs = -1e300));
    const explained = await run(['explain', target, '--state-file', path, '--json']);
    expect(explained.code).toBe(0);
    expect(explained.err).not.toMatch(/bug|RangeError/);
    expect(JSON.parse(explained.out).connection.dwellSeconds).toBeLessThan(86_400);
    const text = await run(['explain', target, '--state-file', path]);
    expect(text.code).not.toBe(70);
    expect(text.err).toMatch(/1 record with an impossible time stamp or amount dropped/);
    const nagios = await check(path, '--format', 'nagios');
    expect(nagios.code).toBe(1);
    expect(nagios.out + nagios.err).toMatch(/1 record with an impossible time stamp/);
  });

  it("a section's own stamp (lastPollMs -1e300) drops that section, with the damaged-section note", async () => {
    const path = join(dir, 'check.json');
    await check(path);
    const data = JSON.parse(await readFile(path, 'utf8'));
    data.tables[0].lastPollMs = -1e300;
    await writeFile(path, JSON.stringify(data));
    const result = await check(path, '--json');
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/1 damaged section dropped/);
  });
});
