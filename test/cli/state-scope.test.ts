import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { FakePlatform, fakeContext, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// One state file, several socket tables: two network namespaces (told apart by the target of
// /proc/self/ns/net), two /proc roots, two boots (/proc/sys/kernel/random/boot_id). Each table's
// history (dwell, reported alerts) must stay its own. Namespace A holds the stuck-states capture,
// B the park-sockets capture: different sessions on the same loopback addresses.
const TABLE_A = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
const TABLE_B = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');
const NETNS_A = 'net:[4026532301]';
const NETNS_B = 'net:[4026532388]';
const THRESHOLDS = ['--half-open', '10s', '--half-close', '10s', '--idle', '1h'];

let platform: FakePlatform;
let dir: string;
let stateFile: string;

beforeEach(async () => {
  platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
  platform.files.set('/proc/sys/kernel/random/boot_id', '6f1c2b1e-0d7a-4a43-9d5e-1f9a2c3b4d5e\n');
  dir = await mkdtemp(join(tmpdir(), 'tcpdwell-scope-'));
  stateFile = join(dir, 'check-state.json');
});

async function checkIn(netns: string, table: string, extra: string[] = []) {
  platform.links.set('/proc/self/ns/net', netns);
  platform.commands = [ssAnswers(table)];
  const context = fakeContext(platform, { HOME: dir });
  const code = await runCli(['check', '--state-file', stateFile, ...THRESHOLDS, ...extra], context, '0.1.0');
  return { code, out: context.out(), err: context.err() };
}

const lines = (out: string, word: string) => out.split('\n').filter((l) => l.startsWith(word));

describe('a state file shared by two network namespaces', () => {
  it('keeps each namespace its own flags, alerts and dwell: A, then B, then A again', async () => {
    const firstA = await checkIn(NETNS_A, TABLE_A);
    expect(firstA.code).toBe(1);
    const reportedInA = lines(firstA.out, 'WARNING');
    expect(reportedInA.length).toBeGreaterThan(0);

    platform.nowValue += 5_000;
    const inB = await checkIn(NETNS_B, TABLE_B);
    // B reports its own sessions, and resolves nothing of A's.
    expect(lines(inB.out, 'RESOLVED')).toEqual([]);
    expect(inB.err).toBe('');

    platform.nowValue += 15_000;
    const secondA = await checkIn(NETNS_A, TABLE_A, ['--format', 'json']);
    expect(secondA.code).toBe(1);
    const report = JSON.parse(secondA.out);
    expect(report.notifications.filter((n: { change: string }) => n.change === 'resolved')).toEqual([]);
    // The SYN_RECEIVED was first seen 20 s ago in A (its count proves nothing): dwell carried over, not restarted by B's run.
    const synReceived = report.flagged.find((f: { state: string }) => f.state === 'SYN_RECEIVED');
    expect(synReceived).toMatchObject({ dwellSource: 'lower-bound', dwellSeconds: 20 });

    const saved = JSON.parse(await readFile(stateFile, 'utf8'));
    expect(saved.tables.map((t: { table: { netns: string } }) => t.table.netns).sort()).toEqual([NETNS_A, NETNS_B]);
  });

  it('a text run in A after B still says nothing new and keeps the status (no false RESOLVED, no exit 0)', async () => {
    await checkIn(NETNS_A, TABLE_A);
    await checkIn(NETNS_B, TABLE_B);
    platform.nowValue += 10_000;
    const again = await checkIn(NETNS_A, TABLE_A);
    expect(again.code).toBe(1);
    expect(again.out).toBe(''); // everything was reported already, and nothing cleared
  });

  it('keeps the tables of two /proc roots apart', async () => {
    await checkIn(NETNS_A, TABLE_A);
    platform.files.set('/host/proc/uptime', '3600.00 7100.00\n');
    platform.links.set('/host/proc/self/ns/net', NETNS_B);
    const viaHost = await checkIn(NETNS_A, TABLE_B, ['--proc-root', '/host/proc']);
    expect(lines(viaHost.out, 'RESOLVED')).toEqual([]);
    const saved = JSON.parse(await readFile(stateFile, 'utf8'));
    expect(saved.tables.map((t: { table: { procRoot: string; netns: string } }) => `${t.table.procRoot} ${t.table.netns}`).sort()).toEqual([`/host/proc ${NETNS_A} ${NETNS_B}`, `/proc ${NETNS_A}`]);
  });
});

describe('tables read through one process directory (--proc-root /proc/PID)', () => {
  it("names the namespace that directory shows, not the caller's, and the kernel's boot", async () => {
    await checkIn(NETNS_A, TABLE_A);
    platform.files.set('/proc/4242/uptime', '3600.00 7100.00\n');
    platform.links.set('/proc/4242/ns/net', NETNS_B);
    await checkIn(NETNS_A, TABLE_B, ['--proc-root', '/proc/4242']);
    const saved = JSON.parse(await readFile(stateFile, 'utf8'));
    const viaPid = saved.tables.find((t: { table: { procRoot: string } }) => t.table.procRoot === '/proc/4242');
    expect(viaPid.table).toMatchObject({ netns: `${NETNS_A} ${NETNS_B}`, bootId: '6f1c2b1e-0d7a-4a43-9d5e-1f9a2c3b4d5e' });
  });

  it('keeps no history where the namespace cannot be told: one note, nothing read or written', async () => {
    await checkIn(NETNS_A, TABLE_A);
    const before = await readFile(stateFile, 'utf8');
    const blind = await checkIn(NETNS_A, TABLE_A, ['--proc-root', '/srv/copy-of-proc']);
    expect(blind.err).toBe('tcpdwell: cannot tell which network namespace /srv/copy-of-proc shows (no readable ns/net or self/ns/net link there): history is neither read nor kept this run\n');
    expect(await readFile(stateFile, 'utf8')).toBe(before);
  });
});

describe('a state file with one damaged section', () => {
  it('drops that section alone, with one note; the other namespace keeps its history and reports nothing again', async () => {
    await checkIn(NETNS_A, TABLE_A);
    await checkIn(NETNS_B, TABLE_B);
    const saved = JSON.parse(await readFile(stateFile, 'utf8'));
    const b = saved.tables.findIndex((t: { table: { netns: string } }) => t.table.netns === NETNS_B);
    saved.tables[b].connections[0] = { protocol: 'sctp' };
    const { writeFile } = await import('node:fs/promises');
    await writeFile(stateFile, JSON.stringify(saved), { mode: 0o600 });
    const inB = await checkIn(NETNS_B, TABLE_B);
    expect(inB.err).toBe(`tcpdwell: state file ${stateFile}: 1 damaged section dropped; the other tables' history is kept\n`);
    const inA = await checkIn(NETNS_A, TABLE_A);
    expect(inA).toMatchObject({ code: 1, out: '', err: '' });
  });
});

describe('a state file with a damaged notifier backlog (breaker 2)', () => {
  it('drops that backlog alone, with one note: the table keeps its history and reports nothing again', async () => {
    await checkIn(NETNS_A, TABLE_A);
    const saved = JSON.parse(await readFile(stateFile, 'utf8'));
    // Damaged by hand for the test: a backlog whose pending list is not a list.
    saved.tables[0].outbox = [{ notifier: 'exec /bin/false', pending: 'truncated' }];
    const { writeFile } = await import('node:fs/promises');
    await writeFile(stateFile, JSON.stringify(saved), { mode: 0o600 });
    const again = await checkIn(NETNS_A, TABLE_A);
    expect(again.err).toBe(`tcpdwell: state file ${stateFile}: 1 notifier backlog was damaged and dropped (those undelivered notifications are lost); the connections' and alerts' history is kept\n`);
    // The alerts were remembered: nothing is announced as new.
    expect(again).toMatchObject({ code: 1, out: '' });
    expect(JSON.parse(await readFile(stateFile, 'utf8')).tables[0].outbox).toBeUndefined();
  });
});

describe('a state file after the host restarted', () => {
  it('drops the earlier boot with one line and starts fresh: no RESOLVED for sockets that died with it, dwell from first sight', async () => {
    await checkIn(NETNS_A, TABLE_A);
    platform.nowValue += 60_000;
    platform.files.set('/proc/sys/kernel/random/boot_id', '0a9b8c7d-1111-4222-8333-944455566677\n');
    const afterReboot = await checkIn(NETNS_A, TABLE_A, ['--format', 'json']);
    expect(afterReboot.err).toBe(
      `tcpdwell: the host restarted since ${stateFile} was written (boot id changed): history of 1 socket table and 7 reported alerts from before the restart dropped, starting fresh\n`,
    );
    const report = JSON.parse(afterReboot.out);
    expect(report.notifications.every((n: { change: string }) => n.change === 'flagged')).toBe(true);
    // Without the restart check, the SYN_RECEIVED would carry a minute of dwell from the old boot.
    expect(report.flagged.find((f: { state: string }) => f.state === 'SYN_RECEIVED')).toBeUndefined();
    const saved = JSON.parse(await readFile(stateFile, 'utf8'));
    expect(saved.tables).toHaveLength(1);
    expect(saved.tables[0].table.bootId).toBe('0a9b8c7d-1111-4222-8333-944455566677');
  });

  it('reads a state file of version 1 (no table identity) as foreign: kept aside, not mixed in', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(stateFile, JSON.stringify({ format: 'tcpdwell-check-state', version: 1, savedAt: '', source: 'ss', connections: [], alerts: [] }));
    const run = await checkIn(NETNS_A, TABLE_A);
    expect(run.err).toMatch(/is unusable \(written by an older tcpdwell, which did not record which socket table \(network namespace, boot\) it describes\); kept as /);
    expect(run.code).toBe(1);
  });
});
