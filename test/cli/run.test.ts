import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { FakePlatform, fakeContext, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

const SS_STUCK = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
const SS_PARK = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');
const PROC_STUCK = readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt');
// The procfs capture is /proc/net/tcp followed by /proc/net/tcp6: split at the second header.
const secondHeader = PROC_STUCK.indexOf('  sl', PROC_STUCK.indexOf('  sl') + 1);
const PROC_TCP = PROC_STUCK.slice(0, secondHeader);
const PROC_TCP6 = PROC_STUCK.slice(secondHeader);

let platform: FakePlatform;
let dir: string;

beforeEach(async () => {
  platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
  dir = await mkdtemp(join(tmpdir(), 'tcpdwell-test-'));
});

async function run(argv: string[]) {
  const context = fakeContext(platform, { HOME: dir });
  const code = await runCli(argv, context, '0.1.0');
  return { code, out: context.out(), err: context.err() };
}

const endpoint = (e: { address: string; port: number }) => `${e.address}:${e.port}`;
type Flagged = { local: { address: string; port: number }; state: string; dwellSource: string; flag: { kind: string; severity: string } };
const summary = (flagged: Flagged[]) => flagged.map((f) => `${f.flag.severity} ${f.flag.kind} ${f.state} ${endpoint(f.local)}`).sort();

describe('check on the ss source (captured stuck states)', () => {
  it('flags exactly the stuck sessions from the kernel data of a single run, and not the busy ones', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    const { code, out, err } = await run(['check', '--json', '--no-state', '--half-open', '10s', '--half-close', '10s', '--idle', '10s', '--critical-half-close', '11.5s']);
    expect(err).toBe('');
    expect(code).toBe(2);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ status: 'critical', source: 'ss', errors: [], counts: { LISTEN: 8, ESTABLISHED: 7, CLOSE_WAIT: 4, FIN_WAIT_2: 4, SYN_SENT: 1, SYN_RECEIVED: 1 } });
    expect(summary(report.flagged)).toEqual([
      'critical half-close CLOSE_WAIT 127.0.0.1:43972', // lastack 11.736 s
      'critical half-close CLOSE_WAIT ::1:52756',
      'critical half-close FIN_WAIT_2 127.0.0.1:40957',
      'critical half-close FIN_WAIT_2 ::1:44747',
      'warning half-close CLOSE_WAIT 127.0.0.1:34110', // 11.432 s
      'warning half-close FIN_WAIT_2 127.0.0.1:36563', // IPv4-mapped, shown as IPv4
      'warning half-open SYN_SENT 127.0.0.1:56268', // ≥ 11.356 s from its retransmissions
      'warning idle ESTABLISHED 127.0.0.1:32968',
      'warning idle ESTABLISHED 127.0.0.1:35576',
      'warning idle ESTABLISHED 127.0.0.1:38781',
      'warning idle ESTABLISHED 127.0.0.1:44865',
      'warning idle ESTABLISHED 127.0.0.1:56264',
    ]);
    const synSent = report.flagged.find((f: Flagged) => f.state === 'SYN_SENT');
    expect(synSent).toMatchObject({ dwellSource: 'kernel', dwellSeconds: 11.4, rawState: 'SYN-SENT', protocol: 'tcp', remote: { address: '127.0.0.1', port: 44865 } });
    expect(synSent.flag).toEqual({ kind: 'half-open', severity: 'warning', thresholdSeconds: 10, measuredSeconds: 11.4, rule: 'default' });
    const mapped = report.flagged.find((f: Flagged) => f.local.port === 36563);
    expect(mapped).toMatchObject({ protocol: 'tcp6', remote: { address: '127.0.0.1', port: 34110 }, dwellSource: 'kernel' });
  });

  it('stays silent with exit 0 when nothing is flagged (cron mails only on output)', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    expect(await run(['check', '--no-state'])).toEqual({ code: 0, out: '', err: '' });
  });

  it('prints one line per flagged session and a summary in text mode', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    const { code, out } = await run(['check', '--no-state', '--half-open', '10s']);
    expect(code).toBe(1);
    expect(out.trimEnd().split('\n')).toEqual([
      'WARNING half-open: SYN_SENT 127.0.0.1:56268 -> 127.0.0.1:44865 in state 11s > 10s (rule default, dwell kernel): the listener 127.0.0.1:44865 has a full accept queue and drops SYNs',
      'tcpdwell WARNING - 1 half-open of 25 connections (source ss)',
    ]);
  });

  it('accumulates dwell across two runs through the state file', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    const stateFile = join(dir, 'state', 'check.json');
    const first = await run(['check', '--json', '--state-file', stateFile, '--half-open', '15s']);
    expect(JSON.parse(first.out).flagged).toEqual([]); // SYN_RECEIVED is new to us; SYN_SENT ≥ 11.4 s
    platform.nowValue += 20_000;
    const second = await run(['check', '--json', '--state-file', stateFile, '--half-open', '15s']);
    expect(second.code).toBe(1);
    const flagged = JSON.parse(second.out).flagged;
    expect(summary(flagged)).toEqual(['warning half-open SYN_RECEIVED 127.0.0.1:43211', 'warning half-open SYN_SENT 127.0.0.1:56268']);
    expect(flagged.find((f: Flagged) => f.state === 'SYN_RECEIVED')).toMatchObject({ dwellSource: 'lower-bound', dwellSeconds: 20 });
    expect(flagged.find((f: Flagged) => f.state === 'SYN_SENT')).toMatchObject({ dwellSource: 'kernel', dwellSeconds: 31.4 });
    const saved = JSON.parse(await readFile(stateFile, 'utf8'));
    expect(saved).toMatchObject({ format: 'tcpdwell-check-state', version: 2 });
    expect(saved.tables).toHaveLength(1);
    expect(saved.tables[0]).toMatchObject({ source: 'ss', table: { source: 'auto', procRoot: '/proc', netns: 'net:[4026531840]', bootId: null } });
    expect(saved.tables[0].connections).toHaveLength(25);
  });

  it('uses the XDG state dir by default', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    await run(['check']);
    expect(await readdir(join(dir, '.local', 'state', 'tcpdwell'))).toContain('check-state.json');
  });

  it('samples over --window with a fake clock: the SYN_RECEIVED ages by the window', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    const { code, out } = await run(['check', '--json', '--window', '12s', '--interval', '3s', '--half-open', '10s']);
    expect(code).toBe(1);
    expect(summary(JSON.parse(out).flagged)).toEqual(['warning half-open SYN_RECEIVED 127.0.0.1:43211', 'warning half-open SYN_SENT 127.0.0.1:56268']);
    expect(platform.ran).toHaveLength(5); // 0, 3, 6, 9, 12 s
  });

  it('reports a corrupt state file on stderr, keeps it aside, and replaces it', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    const stateFile = join(dir, 'check.json');
    await writeFile(stateFile, '{"format":"tcpdwell-check-state","version":1,"conn');
    const { code, err } = await run(['check', '--state-file', stateFile]);
    expect(code).toBe(0);
    expect(err).toMatch(/^tcpdwell: state file .*check\.json is unusable \(not JSON .*\); kept as .*check\.json\.corrupt-[\d-]+T\d+Z, starting without history\n$/);
    expect(JSON.parse(await readFile(stateFile, 'utf8')).tables[0].connections).toHaveLength(25);
    expect((await readdir(dir)).filter((f) => f.includes('corrupt'))).toHaveLength(1);
  });

  it('replaces a state file written by another version', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    const stateFile = join(dir, 'check.json');
    await writeFile(stateFile, JSON.stringify({ format: 'tcpdwell-check-state', version: 99, savedAt: '', source: 'ss', connections: [] }));
    const { err } = await run(['check', '--state-file', stateFile]);
    // Changed on purpose (breaker 9): this release reads format 2 and 3.
    expect(err).toContain('written by another version of tcpdwell (state format 99, this one reads 2 and 3)');
  });
});

describe('sources: fallback and failure', () => {
  beforeEach(() => {
    platform.files.set('/proc/net/tcp', PROC_TCP);
    platform.files.set('/proc/net/tcp6', PROC_TCP6);
  });

  it('degrades to procfs with one notice when ss is missing', async () => {
    platform.commands = [];
    const { code, out } = await run(['check', '--json', '--no-state', '--half-open', '10s']);
    expect(code).toBe(1);
    const report = JSON.parse(out);
    expect(report.source).toBe('procfs');
    expect(report.notices).toEqual([
      expect.stringMatching(/^ss \(iproute2\) is not installed; using \/proc\/net\/tcp instead/),
      'idle not measured for 7 ESTABLISHED connections: source procfs reports no activity counters',
    ]);
    // procfs knows the SYN_RECEIVED request's timeout count, so both half-open sockets are aged by the kernel.
    expect(summary(report.flagged)).toEqual(['warning half-open SYN_RECEIVED 127.0.0.1:43211', 'warning half-open SYN_SENT 127.0.0.1:56268']);
    expect(report.counts).toEqual({ LISTEN: 8, ESTABLISHED: 7, CLOSE_WAIT: 4, FIN_WAIT_2: 4, SYN_SENT: 1, SYN_RECEIVED: 1 });
  });

  it('says UNKNOWN (exit 3) when the chosen source is missing', async () => {
    platform.commands = [];
    const { code, out, err } = await run(['check', '--no-state', '--source', 'ss']);
    expect(code).toBe(3);
    expect(err).toBe('');
    expect(out).toBe('tcpdwell UNKNOWN - ss (iproute2) is not installed (source ss)\n');
  });

  it('says UNKNOWN when /proc/net/tcp cannot be read, and keeps going on one readable table', async () => {
    const denied = Object.assign(new Error('EACCES'), { code: 'EACCES' });
    platform.files.set('/proc/net/tcp', denied);
    platform.files.set('/proc/net/tcp6', denied);
    const both = await run(['list', '--source', 'procfs']);
    expect(both.code).toBe(3);
    expect(both.err).toBe('tcpdwell: cannot read the socket table (source procfs): cannot read /proc/net/tcp: permission denied; cannot read /proc/net/tcp6: permission denied\n');
    platform.files.set('/proc/net/tcp6', PROC_TCP6);
    const one = await run(['list', '--source', 'procfs', '--json']);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.out)).toHaveLength(5);
    expect(one.err).toContain('cannot read /proc/net/tcp: permission denied');
  });

  it('reset says what list says of a table it could not read: its sessions were not selected (a notice, not silence)', async () => {
    const denied = Object.assign(new Error('EACCES'), { code: 'EACCES' });
    platform.files.set('/proc/net/tcp', PROC_TCP);
    platform.files.set('/proc/net/tcp6', denied);
    for (const argv of [
      ['reset', '--source', 'procfs', '--state', 'CLOSE_WAIT'],
      ['reset', '--source', 'procfs', '--state', 'CLOSE_WAIT', '--json'],
    ]) {
      const { code, err } = await run(argv);
      expect(code).toBe(0);
      expect(err).toContain('tcpdwell: cannot read /proc/net/tcp6: permission denied');
      expect(err).toContain('tcpdwell: the tcp6 table was not read: no session there is selected\n');
    }
  });

  it('explain of a connection not in a table read in part: UNKNOWN (exit 3) naming what was not read, not "no such connection" (exit 1)', async () => {
    const denied = Object.assign(new Error('EACCES'), { code: 'EACCES' });
    platform.files.set('/proc/net/tcp', PROC_TCP);
    platform.files.set('/proc/net/tcp6', denied);
    const partial = await run(['explain', '10.9.9.9:5432-10.9.9.8:40100', '--source', 'procfs']);
    expect(partial.code).toBe(3);
    expect(partial.err).toContain('tcpdwell: cannot read /proc/net/tcp6: permission denied\n');
    expect(partial.err).toContain('(the tcp6 table was not read: it may be there)\n');
    // Every table read: not there is exit 1, as before.
    platform.files.set('/proc/net/tcp6', PROC_TCP6);
    const whole = await run(['explain', '10.9.9.9:5432-10.9.9.8:40100', '--source', 'procfs']);
    expect(whole.code).toBe(1);
    expect(whole.err).not.toContain('not read');
  });

  it('check: a table it could not read makes "nothing flagged" UNKNOWN (exit 3); a flag the other table proves stands', async () => {
    const denied = Object.assign(new Error('EACCES'), { code: 'EACCES' });
    // tcp6 readable and empty (the kernel's header alone), tcp denied: nothing flagged is not proven.
    platform.files.set('/proc/net/tcp', denied);
    platform.files.set('/proc/net/tcp6', PROC_TCP6.slice(0, PROC_TCP6.indexOf('\n') + 1));
    const empty = await run(['check', '--no-state', '--source', 'procfs', '--json']);
    expect(empty.code).toBe(3);
    expect(JSON.parse(empty.out)).toMatchObject({ status: 'unknown', errors: ['the tcp table was not read'], flagged: [] });
    const text = await run(['check', '--no-state', '--source', 'procfs']);
    expect(text.code).toBe(3);
    expect(text.out).toContain('tcpdwell UNKNOWN - the tcp table was not read (source procfs)\n');
    // tcp readable with its half-open sessions, tcp6 denied: the warning the tcp table proves stands.
    platform.files.set('/proc/net/tcp', PROC_TCP);
    platform.files.set('/proc/net/tcp6', denied);
    const flagged = await run(['check', '--no-state', '--source', 'procfs', '--json', '--half-open', '10s']);
    expect(flagged.code).toBe(1);
    expect(JSON.parse(flagged.out)).toMatchObject({ status: 'warning', errors: ['the tcp6 table was not read'], flagged: [{ state: 'SYN_RECEIVED' }, { state: 'SYN_SENT' }] });
    // No tcp6 file at all is IPv6 off: read in full, and the check (an empty tcp table) is OK as before.
    platform.files.delete('/proc/net/tcp6');
    platform.files.set('/proc/net/tcp', PROC_TCP6.slice(0, PROC_TCP6.indexOf('\n') + 1));
    const ipv4Only = await run(['check', '--no-state', '--source', 'procfs', '--json']);
    expect(ipv4Only.code).toBe(0);
    expect(JSON.parse(ipv4Only.out)).toMatchObject({ status: 'ok', errors: [] });
  });

  it('check --window: a flag in a table the last poll could not read is as last read: UNKNOWN, not WARNING, and said', async () => {
    // The half-open pair is in the tcp (IPv4) table; it becomes unreadable after the first poll.
    let polls = 0;
    const sleep = async (ms: number) => {
      platform.nowValue += ms;
      if (++polls === 1) platform.files.set('/proc/net/tcp', Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    };
    const context = { ...fakeContext(platform), sleep };
    const code = await runCli(['check', '--no-state', '--source', 'procfs', '--json', '--half-open', '10s', '--window', '2s', '--interval', '1s'], context, '0.1.0');
    const report = JSON.parse(context.out());
    expect(code).toBe(3);
    expect(report).toMatchObject({ status: 'unknown', errors: ['the tcp table was not read'] });
    expect(report.notices).toContainEqual('2 flagged sessions as last read, not now: the tcp table was not read (their dwell is as of the last reading)');
    // Nagios says what was not read too.
    platform.files.set('/proc/net/tcp', PROC_TCP);
    platform.files.set('/proc/net/tcp6', Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    const nagios = await run(['check', '--no-state', '--source', 'procfs', '--format', 'nagios', '--half-open', '10s']);
    expect(nagios.code).toBe(1);
    expect(nagios.out).toContain('cannot read /proc/net/tcp6: permission denied');
  });

  it('says UNKNOWN when /proc/net/tcp does not exist (a wrong --proc-root), even though tcp6 is also absent', async () => {
    const result = await run(['list', '--proc-root', '/host/proc', '--json']);
    expect(result.code).toBe(3);
    expect(result.out).toBe('');
    expect(result.err).toBe('tcpdwell: cannot read the socket table (source procfs): cannot read /host/proc/net/tcp: no such file; cannot read /host/proc/net/tcp6: no such file\n');
  });

  it('reads a host without IPv6 (no tcp6 file) as complete', async () => {
    platform.files.delete('/proc/net/tcp6');
    const result = await run(['list', '--source', 'procfs', '--json']);
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(result.out)).toHaveLength(20);
  });

  it('a --proc-root that is not the kernel\'s procfs with no tcp6 file: tcp6 not read (UNKNOWN, said), not "IPv6 off" (break-it W4)', async () => {
    platform.files.set('/copy/proc/net/tcp', PROC_TCP6.slice(0, PROC_TCP6.indexOf('\n') + 1)); // an empty tcp table
    const copied = await run(['check', '--no-state', '--source', 'procfs', '--proc-root', '/copy/proc', '--json']);
    expect(copied.code).toBe(3);
    const report = JSON.parse(copied.out);
    expect(report).toMatchObject({ status: 'unknown', errors: ['the tcp6 table was not read'] });
    expect(JSON.stringify(report.notices)).toContain("/copy/proc/net/tcp6 does not exist and /copy/proc/net/tcp is not on the kernel's procfs");
    // The same tree on procfs (a host's /proc bind-mounted there): an absent tcp6 proves IPv6 off.
    platform.procfsRoots.add('/copy/proc');
    const mounted = await run(['check', '--no-state', '--source', 'procfs', '--proc-root', '/copy/proc', '--json']);
    expect(mounted.code).toBe(0);
    expect(JSON.parse(mounted.out)).toMatchObject({ status: 'ok', errors: [] });
  });

  it('keeps the good rows of truncated ss output and says how many lines it skipped', async () => {
    const cut = SS_STUCK.slice(0, SS_STUCK.indexOf('SYN-SENT') + 40);
    platform.commands = [ssAnswers(cut)];
    const { code, out } = await run(['check', '--json', '--no-state']);
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(Object.values(report.counts as Record<string, number>).reduce((a, b) => a + b)).toBe(11);
    expect(report.notices).toEqual(['ss: skipped 1 malformed line (first: line 25: truncated row: 4 fields, at least 5 expected)']);
  });

  it('says UNKNOWN when ss fails', async () => {
    platform.commands = [() => ({ stdout: '', stderr: 'Cannot open netlink socket: Protocol not supported\n', exitCode: 1 })];
    const { code, out } = await run(['check', '--no-state', '--json']);
    expect(code).toBe(3);
    expect(JSON.parse(out)).toMatchObject({ status: 'unknown', errors: ['ss failed: Cannot open netlink socket: Protocol not supported'], flagged: [] });
  });
});

describe('ss argv and inodes', () => {
  it('asks ss for inodes (-e) only where a cgroup2 mount exists, since -e fails per socket without one', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    platform.files.set('/proc/self/mounts', 'proc /proc proc rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n');
    await run(['list']);
    expect(platform.ran[0]).toEqual(['ss', '-t', '-a', '-n', '-o', '-i', '-e']);
    const bare = new FakePlatform();
    bare.files.set('/proc/self/mounts', 'proc /proc proc rw 0 0\nsysfs /sys sysfs rw 0 0\n');
    bare.commands = [ssAnswers(SS_STUCK)];
    await runCli(['list'], fakeContext(bare), '0.1.0');
    expect(bare.ran[0]).toEqual(['ss', '-t', '-a', '-n', '-o', '-i']);
  });

  it('finds owners through /proc/net/tcp when ss printed no inodes', async () => {
    platform.commands = [ssAnswers(SS_STUCK)]; // captured with -tanoi: no ino:
    platform.files.set('/proc/net/tcp', PROC_TCP);
    platform.files.set('/proc/net/tcp6', PROC_TCP6);
    platform.links.set('/proc/77/fd/9', 'socket:[233576]'); // the CLOSE_WAIT 127.0.0.1:34928 in procfs
    platform.files.set('/proc/77/comm', 'leaky\n');
    platform.inOwnNetns(77);
    const { out } = await run(['list', '--json', '--state', 'CLOSE_WAIT', '--port', '34928']);
    expect(JSON.parse(out)).toEqual([expect.objectContaining({ inode: 233576, pid: 77, process: 'leaky' })]);
  });
});

describe('list', () => {
  it('prints a table, flagged first then longest dwell, with ≥ on lower bounds', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    const { code, out } = await run(['list', '--half-close', '11.6s']);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^STATE\s+LOCAL\s+REMOTE\s+PID\/PROCESS\s+DWELL\s+IDLE\s+FLAG$/);
    expect(lines).toHaveLength(26);
    const firstColumns = (l: string) => l.split(/\s+/).slice(0, 2).join(' ');
    // Four half-close flags (timer > 11.6 s), then the unflagged: those whose kernel dwells put their
    // state's entry in the same second of the clock (11.936 s, 11.928 s, 11.732 s … before the poll)
    // in the flow's numeric order, not by milliseconds that jitter between polls (breaker 3).
    expect(lines.slice(1, 5).every((l) => l.includes('half-close!'))).toBe(true);
    expect(lines.slice(5, 9).map(firstColumns)).toEqual(['ESTABLISHED 127.0.0.1:32968', 'ESTABLISHED 127.0.0.1:33390', 'CLOSE_WAIT 127.0.0.1:34110', 'ESTABLISHED 127.0.0.1:35576']);
    expect(lines.find((l) => l.startsWith('SYN_SENT'))).toMatch(/^SYN_SENT .* ≥11s /);
    expect(lines.find((l) => l.startsWith('LISTEN') && l.includes(':40957 '))).toMatch(/^LISTEN +127\.0\.0\.1:40957 +0\.0\.0\.0:\* +- +≥0\.0s/);
    expect(lines.find((l) => l.includes('[::]:36563'))).toMatch(/^LISTEN +\[::\]:36563 +\[::\]:\* /);
  });

  it('filters by state and prints the JSON contract', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    const { out } = await run(['list', '--state', 'CLOSE_WAIT', '--json']);
    const rows = JSON.parse(out);
    expect(rows).toHaveLength(4);
    expect(Object.keys(rows[0]).slice(0, 12)).toEqual([
      'protocol',
      'local',
      'remote',
      'state',
      'rawState',
      'pid',
      'process',
      'stateSince',
      'dwellSeconds',
      'dwellSource',
      'idleSeconds',
      'halfCloseTimerSeconds',
    ]);
    expect(rows.every((r: { state: string }) => r.state === 'CLOSE_WAIT')).toBe(true);
  });

  it('names owners from /proc/<pid>/fd only for the rows it shows, and says where it had no access', async () => {
    platform.commands = [ssAnswers(SS_PARK)];
    platform.links.set('/proc/4242/fd/3', 'socket:[6731]'); // the v4 CLOSE_WAIT
    platform.links.set('/proc/4242/fd/4', 'socket:[6734]'); // the v6 CLOSE_WAIT
    platform.links.set('/proc/4242/fd/5', 'pipe:[1]');
    platform.files.set('/proc/4242/comm', 'python3\n');
    platform.links.set('/proc/1/fd/0', 'socket:[1]');
    platform.deniedDirectories.add('/proc/1/fd'); // another user's process
    platform.inOwnNetns(4242, 1);
    const { out, err } = await run(['list', '--state', 'close-wait']);
    const rows = out.trimEnd().split('\n').slice(1);
    expect(rows).toHaveLength(3);
    expect(rows.filter((r) => r.includes('4242/python3'))).toHaveLength(2);
    expect(rows.filter((r) => r.includes('(no access)'))).toHaveLength(1); // inode 6737: its owner may be pid 1
    expect(err).toBe('tcpdwell: some sockets belong to processes whose /proc/<pid>/fd cannot be read; run as root to see every owner\n');
    // Already root with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (a sandbox's init denies even root its
    // fd links): "run as root" would not help, so the notice says what denies it instead.
    platform.files.set('/proc/self/status', 'Uid:\t0\t0\t0\t0\nCapEff:\t000001fffeffffff\n');
    const asRoot = await run(['list', '--state', 'close-wait']);
    expect(asRoot.err).toBe(
      'tcpdwell: some sockets belong to processes whose /proc/<pid>/fd cannot be read; denied even to root with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: a sandbox or LSM policy: their owners are not proven\n',
    );
    // Root without CAP_DAC_READ_SEARCH (bit 2): the advice stands.
    platform.files.set('/proc/self/status', 'Uid:\t0\t0\t0\t0\nCapEff:\t000001fffefffffb\n');
    expect((await run(['list', '--state', 'close-wait'])).err).toContain('run as root to see every owner');
    platform.files.delete('/proc/self/status');
    const byProcess = await run(['list', '--process', 'python*', '--json']);
    expect(
      JSON.parse(byProcess.out)
        .map((r: { inode: number; pid: number }) => [r.inode, r.pid])
        .sort(),
    ).toEqual([
      [6731, 4242],
      [6734, 4242],
    ]);
  });

  it('repeats with --watch and keeps history between polls', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    const { code, out } = await run(['list', '--watch', '5s', '--iterations', '3', '--state', 'SYN_RECV', '--json']);
    expect(code).toBe(0);
    const polls = out
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(polls.map((p) => p[0].dwellSeconds)).toEqual([0, 5, 10]);
  });
});

describe('bad input', () => {
  it.each([
    [['check', '--idle', '5 minutes'], 64, /^tcpdwell: option '--idle <duration>' argument '5 minutes' is invalid\. invalid duration/],
    [['list', '--source', 'bpf'], 64, /^tcpdwell: option '--source <name>' argument 'bpf' is invalid/],
  ])('%j exits %i with one line', async (argv, code, message) => {
    const result = await run(argv);
    expect(result.code).toBe(code);
    expect(result.err).toMatch(message);
    expect(result.err.trimEnd().split('\n')).toHaveLength(1);
    expect(result.out).toBe('');
  });

  it('a YAML alias bomb as --config is one line and exit 78, never 70', async () => {
    // Written for the test: "billion laughs", each level nine aliases of the one before.
    const config = join(dir, 'bomb.yaml');
    const levels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    await writeFile(
      config,
      levels
        .map((n, i) =>
          i === 0
            ? `${n}: &${n} [lol,lol,lol,lol,lol,lol,lol,lol,lol]`
            : `${n}: &${n} [${Array(9)
                .fill(`*${levels[i - 1]}`)
                .join(',')}]`,
        )
        .join('\n'),
    );
    platform.commands = [ssAnswers(SS_STUCK)];
    const result = await run(['check', '--no-state', '--config', config]);
    expect(result).toMatchObject({ code: 78, out: '', err: `tcpdwell: ${config}:2: YAML aliases expand more than 100 times (an alias bomb?); write the values out\n` });
  });

  it('exits 78 on a bad config file, naming file, line and field', async () => {
    const config = join(dir, 'tcpdwell.yaml');
    await writeFile(config, 'thresholds:\n  half-open: 30s\n  half_close: 1m\n');
    const result = await run(['check', '--config', config]);
    expect(result.code).toBe(78);
    expect(result.err).toBe(`tcpdwell: ${config}:3: thresholds: unknown field "half_close"\n`);
    const missing = await run(['check', '--config', join(dir, 'nope.yaml')]);
    expect(missing).toMatchObject({ code: 78, err: `tcpdwell: cannot read config file ${join(dir, 'nope.yaml')}: no such file\n` });
  });

  it('exits 78 with one line when two count rules share a name (breaker 7)', async () => {
    const config = join(dir, 'tcpdwell.yaml');
    // Written for the test: the report's case, two count rules named dup.
    await writeFile(config, ['counts:', '  - { name: dup, state: CLOSE_WAIT, per: process, warning: 1 }', '  - { name: dup, state: CLOSE_WAIT, per: local-port, warning: 1 }', ''].join('\n'));
    platform.commands = [ssAnswers(SS_STUCK)];
    const result = await run(['check', '--no-state', '--config', config]);
    expect(result.err).toBe(`tcpdwell: ${config}:3: counts[1].name: count rule name "dup" is already used by counts[0]; each count rule needs its own name\n`);
    expect(result.code).toBe(78);
  });

  it('applies a config file: rules by port and counts per process', async () => {
    platform.commands = [ssAnswers(SS_STUCK)];
    const config = join(dir, 'tcpdwell.yaml');
    await writeFile(
      config,
      [
        'rules:',
        '  - name: lenient-46103',
        '    match: { remote-port: 40957 }',
        '    thresholds: { half-close: 1h }',
        'counts:',
        '  - { name: many-close-wait, state: CLOSE_WAIT, per: local-port, warning: 0 }',
        '',
      ].join('\n'),
    );
    const { out } = await run(['check', '--json', '--no-state', '--config', config, '--half-close', '10s']);
    const report = JSON.parse(out);
    // Its rule allows 1 h, so only its CLOSE_WAIT count (1 > 0 on port 43972) flags it.
    expect(report.flagged.find((f: Flagged) => f.local.port === 43972).flag).toMatchObject({ kind: 'count', rule: 'many-close-wait', group: '43972', count: 1 });
    expect(report.flagged.find((f: Flagged) => f.local.port === 34110).flag).toMatchObject({ kind: 'half-close', rule: 'default' });
    expect(report.countFlags).toHaveLength(4);
    expect(report.countFlags[0]).toMatchObject({ kind: 'count', rule: 'many-close-wait', per: 'local-port', count: 1, severity: 'warning' });
  });
});

describe('TERM=dumb (breaker 13): no full-screen view where the cursor cannot move', () => {
  async function onDumbTerminal(argv: string[]) {
    platform.commands = [ssAnswers(SS_STUCK)];
    // ss -tanoi prints no inodes: the same host's procfs tables give them (without, owners are unknown, and that is said).
    platform.files.set('/proc/net/tcp', PROC_TCP);
    platform.files.set('/proc/net/tcp6', PROC_TCP6);
    // A terminal that is never drawn on: the dashboard must refuse before it opens the screen.
    const terminal = { input: process.stdin, output: process.stdout };
    const context = { ...fakeContext(platform, { HOME: dir, TERM: 'dumb' }), terminal };
    const code = await runCli(argv, context, '0.1.0');
    return { code, out: context.out(), err: context.err() };
  }

  it('`tcpdwell dashboard` says so on one line and exits 64 (usage)', async () => {
    const { code, out, err } = await onDumbTerminal(['dashboard', '--source', 'ss']);
    expect(code).toBe(64);
    expect(out).toBe('');
    expect(err).toBe('tcpdwell: the dashboard cannot draw on TERM=dumb (no cursor movement); use `tcpdwell list` (or --watch), or set TERM (e.g. xterm-256color)\n');
  });

  it('plain `tcpdwell` lists instead, as when piped', async () => {
    const { code, out, err } = await onDumbTerminal(['--source', 'ss']);
    expect([code, err]).toEqual([0, '']);
    expect(out).toMatch(/^STATE +LOCAL/m);
    expect(out).toContain('CLOSE_WAIT');
  });
});
