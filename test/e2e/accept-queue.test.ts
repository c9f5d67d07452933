import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warnSkip } from '../needs-program.js';
import { cliIn, deleteNamespace, whyNotRunnable, type ParkedSocket } from './parked-namespace.js';

// Connections the kernel completed and the application never accepted, on the real kernel:
// scripts/park-sockets.py --accept-queue in a private namespace. The server side of one never
// accepted sits in its listener's accept queue, ESTABLISHED with inode 0; with --idle 1s it was
// flagged idle and explained as "no data either way … both sides at once spoke last", with
// keepalive advice. It is idle (the flag stays), but what the data proves is that the application
// has not accepted it. Its accepted twin on the same listener stays a plain idle finding.

const NAME = `tcpdwell-acceptq-e2e-${process.pid}`;
const ROOT = new URL('../..', import.meta.url).pathname;
const skip = whyNotRunnable();
warnSkip('accept-queue end-to-end tests', skip);

const flow = (s: ParkedSocket) => `${s.local.address}:${s.local.port}-${s.remote!.address}:${s.remote!.port}`.replace(/(::1):(\d+)/g, '[$1]:$2');

describe.skipIf(skip !== undefined)('connections waiting in an accept queue, on the real kernel', () => {
  let helper: ChildProcessWithoutNullStreams | undefined;
  let parked: ParkedSocket[] = [];
  const role = (name: string) => parked.find((s) => s.role === name)!;

  beforeAll(async () => {
    deleteNamespace(NAME);
    execFileSync('ip', ['netns', 'add', NAME]);
    try {
      execFileSync('ip', ['netns', 'exec', NAME, 'ip', 'link', 'set', 'lo', 'up']);
      helper = spawn('ip', ['netns', 'exec', NAME, 'python3', join(ROOT, 'scripts/park-sockets.py'), '--accept-queue'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: helper!.stdout }).once('line', resolve);
        helper!.once('exit', (code) => reject(new Error(`park-sockets.py exited (${code})`)));
      });
      parked = (JSON.parse(line) as { sockets: ParkedSocket[] }).sockets;
      await delay(1_500); // past --idle 1s
    } catch (error) {
      helper?.kill();
      deleteNamespace(NAME);
      throw error;
    }
  }, 20_000);

  afterAll(() => {
    helper?.stdin.end();
    helper?.kill();
    deleteNamespace(NAME);
  });

  for (const source of ['ss', 'netlink', 'procfs']) {
    it(`explain --source ${source}: the server side never accepted waits in the listener's accept queue, named with its owner, and gets no keepalive advice`, async () => {
      const server = role('queue-silent-server');
      const { code, stdout, stderr } = await cliIn(NAME, ['explain', flow(server), '--source', source, '--idle', '1s']);
      expect(code, stderr).toBe(0);
      const story = stdout.slice(0, stdout.indexOf('History:'));
      expect(story).toMatch(
        new RegExp(
          `^Finding: waiting in the accept queue of 127\\.0\\.0\\.1:${server.local.port} \\(python3\\[\\d+\\]\\): the kernel completed the handshake, the application has not accepted it$`,
          'm',
        ),
      );
      expect(story).toMatch(new RegExp(`the listener 127\\.0\\.0\\.1:${server.local.port} \\(python3\\[\\d+\\]\\) has 2 connections in its accept queue`));
      expect(story).toContain('has not called accept()');
      expect(story).not.toMatch(/no data either way|spoke last|enable TCP keepalive/);
      if (source !== 'procfs') expect(story).toContain('Flagged: warning idle');
    }, 30_000);
  }

  it('explain: bytes its client sent wait unread in it; its accepted twin stays plain idle', async () => {
    const sent = await cliIn(NAME, ['explain', flow(role('queue-sent-server')), '--source', 'ss', '--idle', '1s']);
    expect(sent.stdout).toContain('5 bytes from the peer wait in it unread (Recv-Q)');
    const twin = await cliIn(NAME, ['explain', flow(role('queue-accepted-server')), '--source', 'ss', '--idle', '1s']);
    expect(twin.stdout).toMatch(/^Finding: idle for \d/m);
    expect(twin.stdout).not.toContain('accept queue of');
  }, 30_000);

  it('explain: the client side on this host is told its server side waits unaccepted (IPv4 and IPv6)', async () => {
    for (const name of ['queue-silent-client', 'queue-silent6-client']) {
      const { stdout } = await cliIn(NAME, ['explain', flow(role(name)), '--source', 'ss', '--idle', '1s']);
      expect(stdout, name).toMatch(/^Finding: its server side on this host waits in the accept queue of \S+ \(python3\[\d+\]\): the server application has not accepted it/m);
      expect(stdout, name).not.toContain('enable TCP keepalive');
    }
  }, 30_000);

  it('check --json: the codes of each kind, the idle flags kept', async () => {
    const { stdout } = await cliIn(NAME, ['check', '--no-state', '--json', '--source', 'netlink', '--idle', '1s', '--half-open', '1h', '--half-close', '1h']);
    const report = JSON.parse(stdout) as { flagged: { local: { port: number }; remote: { port: number }; flag: { kind: string }; finding: { code: string } }[] };
    const codeOf = (s: ParkedSocket) => report.flagged.find((f) => f.local.port === s.local.port && f.remote.port === s.remote!.port);
    for (const name of ['queue-silent-server', 'queue-sent-server', 'queue-silent6-server', 'backlog-filler-server']) expect(codeOf(role(name))?.finding.code, name).toBe('not-accepted');
    for (const name of ['queue-silent-client', 'queue-sent-client', 'queue-silent6-client', 'backlog-filler']) expect(codeOf(role(name))?.finding.code, name).toBe('peer-not-accepted');
    expect(codeOf(role('queue-accepted-server'))?.finding.code).toBe('idle');
    expect(codeOf(role('queue-accepted-client'))?.finding.code).toBe('idle');
    expect(codeOf(role('queue-silent-server'))?.flag.kind).toBe('idle');
  }, 30_000);
});
