import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Monitor } from '../../../src/app/monitor.js';
import { NetnsProvider } from '../../../src/sources/linux/netns-provider.js';
import { NetnsNotFoundError } from '../../../src/sources/linux/netns.js';
import { EventStream } from '../../../src/app/event-stream.js';
import { evaluateAll } from '../../../src/core/evaluate.js';
import { defaultPolicy } from '../../../src/core/policy.js';
import { eventToJson, formatEventLine } from '../../../src/output/events.js';
import { FakePlatform, ssAnswers } from '../../fake-platform.js';
import { capturedReplyTo } from './captured-kernel.js';
import { readFixtureBytes } from '../../fixture.js';
import { kernelStateAgeMs } from '../../../src/core/kernel-dwell.js';
import { NetnsEntryError, type NetnsTarget, type SockDiagDumpRequest } from '../../../src/sources/linux/sock-diag-dump.js';

// Written for the test, in the kernel's /proc/net/tcp shape (see the park-sockets capture):
// 127.0.0.1:8080 -> 127.0.0.1:40000 in CLOSE_WAIT (08), socket inode INODE.
const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const closeWait = (inode: number) => `${HEADER}\n   0: 0100007F:1F90 0100007F:9C40 08 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 20 4 0 10 -1\n`;

/**
 * A host (namespace 10, pid 1 and pid 100) and two pods' namespaces with the same loopback flow:
 * 20 (`ip netns` name web, pid 200) and 30 (pid 300, a Docker container). Pid 100 holds a
 * descriptor of pod 30's socket too (passed over a unix socket): it is not that namespace's owner.
 */
function podHost(): FakePlatform {
  const p = new FakePlatform();
  p.links.set('/proc/self/ns/net', 'net:[10]');
  for (const [pid, ns] of [
    [1, 10],
    [100, 10],
    [200, 20],
    [300, 30],
  ] as const) {
    p.links.set(`/proc/${pid}/ns/net`, `net:[${ns}]`);
    p.files.set(`/proc/${pid}/comm`, `proc${pid}\n`);
    p.files.set(`/proc/${pid}/cgroup`, '0::/\n');
  }
  p.files.set('/proc/300/cgroup', `0::/system.slice/docker-${'ab'.repeat(32)}.scope\n`);
  p.files.set('/proc/self/mountinfo', '44 42 0:4 net:[20] /run/netns/web rw shared:3 - nsfs nsfs rw\n');
  p.files.set('/proc/1/net/tcp', `${HEADER}\n`);
  p.files.set('/proc/200/net/tcp', closeWait(5001));
  p.files.set('/proc/300/net/tcp', closeWait(6001));
  p.links.set('/proc/100/fd/9', 'socket:[6001]');
  p.links.set('/proc/200/fd/3', 'socket:[5001]');
  p.links.set('/proc/300/fd/4', 'socket:[6001]');
  return p;
}

describe('NetnsProvider through a Monitor (--netns all, procfs)', () => {
  it('keeps two namespaces’ identical 4-tuples apart, each with its own owner and label', async () => {
    const platform = podHost();
    const monitor = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' } });
    const outcome = await monitor.poll();
    expect(outcome.ok).toBe(true);
    const rows = [...monitor.tracker.connections.values()].map((c) => c.row);
    expect(rows.map((r) => [r.netns?.inode, r.pid, r.process])).toEqual([
      [20, 200, 'proc200'],
      [30, 300, 'proc300'],
    ]);
    expect(rows[0]!.netns?.names).toEqual(['web']);
    expect(rows[1]!.netns?.container).toEqual({ runtime: 'docker', id: 'ab'.repeat(32) });
    // pid 100 (host namespace) was never scanned for pod 30's socket.
    expect(platform.listed).not.toContain('/proc/100/fd');
  });

  it('a namespace that disappears closes its connections once, with one notice', async () => {
    const platform = podHost();
    const monitor = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' } });
    await monitor.poll();
    platform.links.delete('/proc/300/ns/net');
    platform.files.delete('/proc/300/net/tcp');
    platform.nowValue += 2000;
    const second = await monitor.poll();
    const closed = second.events.filter((e) => e.type === 'closed');
    expect(closed.map((e) => e.connection.row.netns?.inode)).toEqual([30]);
    expect(second.notices.filter((n) => n.includes('is gone'))).toEqual(['network namespace docker ababababab (net:[30]) is gone: its connections are closed'.replace('ababababab', 'ab'.repeat(6))]);
    platform.nowValue += 2000;
    // watch's event stream: one netns-gone event, counting the closes of that poll.
    const gone = new EventStream().next(second, evaluateAll(monitor.tracker, platform.nowValue, defaultPolicy())).filter((e) => e.type === 'netns-gone');
    expect(gone.map(eventToJson)).toEqual([{ event: 'netns-gone', at: new Date(second.takenAtMs).toISOString(), netns: expect.objectContaining({ inode: 30 }), closed: 1 }]);
    expect(formatEventLine(gone[0]!)).toMatch(/gone    network namespace docker abababababab \(net:\[30\]\): 1 connection closed$/);
    platform.nowValue += 2000;
    const third = await monitor.poll();
    expect(third.events.filter((e) => e.type === 'closed')).toEqual([]);
    expect(third.goneNetns).toBeUndefined();
    expect(third.notices.filter((n) => n.includes('is gone'))).toEqual([]);
    expect([...monitor.tracker.connections.values()].map((c) => c.row.netns?.inode)).toEqual([20]);
  });

  it('a namespace that cannot be read this time keeps its connections (not a close), and says so', async () => {
    const platform = podHost();
    const monitor = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' } });
    expect((await monitor.poll()).unread).toBeUndefined();
    platform.files.set('/proc/300/net/tcp', Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    platform.nowValue += 2000;
    const second = await monitor.poll();
    expect(second.ok).toBe(true);
    // What check needs to say UNKNOWN rather than OK: part of the table was not read.
    expect(second.unread).toEqual(['1 network namespace not read']);
    expect(second.events.filter((e) => e.type === 'closed')).toEqual([]);
    expect(monitor.tracker.connections.size).toBe(2);
    expect(second.notices.some((n) => /1 of 3 network namespaces not read .*permission denied/.test(n))).toBe(true);
  });

  it('a namespace not read: a one-shot knows nothing of its connections and says so; a later poll, or history from a state file, keeps them as they were', async () => {
    const denied = () => Object.assign(new Error('EACCES'), { code: 'EACCES' });
    const notRead = (notices: readonly string[]) => notices.filter((n) => n.includes(' not read ')).map((n) => n.replace(/\): netns .*$/, ')'));
    // One-shot (list, check --no-state): pod 30 unreadable at the only poll; nothing was kept.
    const platform = podHost();
    platform.files.set('/proc/300/net/tcp', denied());
    const oneShot = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' } });
    const only = await oneShot.poll();
    expect(notRead(only.notices)).toEqual(['1 of 3 network namespaces not read (nothing is known of their connections: none is shown)']);
    expect([...oneShot.tracker.connections.values()].map((c) => c.row.netns?.inode)).toEqual([20]);
    // A long-running front end: read at the first poll, not at the second; its connection is kept.
    const runningHost = podHost();
    const running = new Monitor(runningHost, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' } });
    await running.poll();
    const history = running.tracker;
    runningHost.files.set('/proc/300/net/tcp', denied());
    const second = await running.poll();
    expect(notRead(second.notices)).toEqual(['1 of 3 network namespaces not read (their connections are kept as they were)']);
    expect(running.tracker.connections.size).toBe(2);
    // `check` with a state file: a new process (a new provider) starts from the saved history.
    const fromState = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' }, initialState: history });
    expect(notRead((await fromState.poll()).notices)).toEqual(['1 of 3 network namespaces not read (their connections are kept as they were)']);
    // Both pods unreadable, the history holding pod 20's connection only (pod 30's was never read).
    platform.files.set('/proc/200/net/tcp', denied());
    const mixed = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' }, initialState: oneShot.tracker });
    expect(notRead((await mixed.poll()).notices)).toEqual(['2 of 3 network namespaces not read (the connections of 1 of them are kept as they were; nothing is known of the rest)']);
  });

  it('a named namespace: only it is read; when it is deleted its connections close once, then polls fail', async () => {
    const platform = podHost();
    const monitor = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'name', name: 'web' } });
    await monitor.poll();
    expect([...monitor.tracker.connections.values()].map((c) => c.row.netns?.inode)).toEqual([20]);
    expect(platform.readPaths).not.toContain('/proc/300/net/tcp');
    platform.files.set('/proc/self/mountinfo', '');
    platform.links.delete('/proc/200/ns/net');
    const second = await monitor.poll();
    expect(second.ok).toBe(true);
    expect(second.events.filter((e) => e.type === 'closed').length).toBe(1);
    const third = await monitor.poll();
    expect(third.ok).toBe(false);
    expect(third.error).toMatch(/no network namespace named "web"/);
  });

  // Written for the test, in the kernel's /proc/<pid>/stat shape (a real line of `cat`, 52 fields,
  // its name with a blank and a parenthesis as a process may have): starttime (field 22) is STARTED.
  const stat = (pid: number, started: number) =>
    `${pid} (a (b) c) S 1 ${pid} ${pid} 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 ${started} 3133440 358 18446744073709551615 94282833424384 94282833444265 140726857004816 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94282833460272 94282833461888 94282874081280 140726857009889 140726857009909 140726857009909 140726857011179 0\n`;

  for (const [what, nextPid] of [
    ['another process', 301],
    ['the same pid reused by a later process', 300],
  ] as const) {
    it(`an inode the kernel gives to a new namespace (held by ${what}, another start time) is a new namespace: the old one closes once, with netns-gone`, async () => {
      const platform = podHost();
      platform.files.set('/proc/1/stat', stat(1, 1));
      platform.files.set('/proc/100/stat', stat(100, 40));
      platform.files.set('/proc/200/stat', stat(200, 300));
      platform.files.set('/proc/300/stat', stat(300, 500));
      const monitor = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' } });
      await monitor.poll();
      const labels = () => [...monitor.tracker.connections.values()].map((c) => [c.row.netns?.inode, c.row.netns?.started]);
      expect(labels()).toEqual([
        [20, 300],
        [30, 500],
      ]);
      // Namespace 30's only process exits; a later one is given inode 30, with the same loopback flow.
      for (const path of ['/proc/300/ns/net', '/proc/300/net/tcp', '/proc/300/stat', '/proc/300/cgroup', '/proc/300/comm']) {
        platform.files.delete(path);
        platform.links.delete(path);
      }
      platform.links.delete('/proc/300/fd/4');
      platform.links.set(`/proc/${nextPid}/ns/net`, 'net:[30]');
      platform.files.set(`/proc/${nextPid}/stat`, stat(nextPid, 900));
      platform.files.set(`/proc/${nextPid}/comm`, 'later\n');
      platform.files.set(`/proc/${nextPid}/cgroup`, '0::/\n');
      platform.files.set(`/proc/${nextPid}/net/tcp`, closeWait(7001));
      platform.links.set(`/proc/${nextPid}/fd/4`, 'socket:[7001]');
      platform.nowValue += 2000;
      const second = await monitor.poll();
      expect(second.events.filter((e) => e.type === 'closed').map((e) => [e.connection.row.netns?.inode, e.connection.row.netns?.started])).toEqual([[30, 500]]);
      expect(second.events.filter((e) => e.type === 'opened').map((e) => [e.connection.row.netns?.inode, e.connection.row.netns?.started, e.connection.row.process])).toEqual([[30, 900, 'later']]);
      expect(second.goneNetns?.map((n) => [n.inode, n.started, n.container?.runtime])).toEqual([[30, 500, 'docker']]);
      const gone = new EventStream().next(second, evaluateAll(monitor.tracker, platform.nowValue, defaultPolicy())).filter((e) => e.type === 'netns-gone');
      expect(gone.map((e) => (e.type === 'netns-gone' ? e.closed : -1))).toEqual([1]);
      expect(labels()).toEqual([
        [20, 300],
        [30, 900],
      ]);
      // The next poll: the same holder, the same namespace; nothing closes again.
      platform.nowValue += 2000;
      const third = await monitor.poll();
      expect(third.events.filter((e) => e.type === 'closed' || e.type === 'opened')).toEqual([]);
      expect(third.goneNetns).toBeUndefined();
    });
  }

  for (const choice of [
    { kind: 'pid', pid: 200 },
    { kind: 'path', path: '/proc/200/ns/net' },
  ] as const) {
    it(`--netns ${choice.kind === 'pid' ? 'PID' : '/proc/PID/ns/net'}: once its namespace is gone, the pid given to a later process (in the host's namespace) is not read instead`, async () => {
      const platform = podHost();
      platform.files.set('/proc/self/mountinfo', '');
      platform.files.set('/proc/200/stat', stat(200, 300));
      const monitor = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: choice });
      await monitor.poll();
      expect([...monitor.tracker.connections.values()].map((c) => c.row.netns?.inode)).toEqual([20]);
      // Pid 200 exits (namespace 20 with it); a later process gets pid 200, in the host's namespace.
      platform.links.set('/proc/200/ns/net', 'net:[10]');
      platform.files.set('/proc/200/stat', stat(200, 900));
      platform.files.set('/proc/200/net/tcp', closeWait(8001));
      platform.links.set('/proc/200/fd/3', 'socket:[8001]');
      const second = await monitor.poll();
      expect(second.goneNetns?.map((n) => n.inode)).toEqual([20]);
      expect(second.events.filter((e) => e.type === 'opened')).toEqual([]);
      const third = await monitor.poll();
      expect(third.ok).toBe(false);
      expect(third.error).toMatch(/process 200 is gone \(its pid is another process's now\)/);
      expect(monitor.tracker.connections.size).toBe(0);
    });
  }

  it('a namespace whose first process leaves while another of it stays is the same namespace', async () => {
    const platform = podHost();
    platform.links.set('/proc/301/ns/net', 'net:[30]');
    platform.files.set('/proc/300/stat', stat(300, 500));
    platform.files.set('/proc/301/stat', stat(301, 600));
    const monitor = new Monitor(platform, { source: 'procfs', procRoot: '/proc', netns: { kind: 'all' } });
    await monitor.poll();
    platform.links.delete('/proc/300/ns/net');
    platform.files.delete('/proc/300/stat');
    platform.files.set('/proc/301/net/tcp', closeWait(6001));
    platform.links.set('/proc/301/fd/4', 'socket:[6001]');
    platform.nowValue += 2000;
    const second = await monitor.poll();
    expect(second.events.filter((e) => e.type === 'closed')).toEqual([]);
    expect(second.goneNetns).toBeUndefined();
    expect([...monitor.tracker.connections.values()].map((c) => [c.row.netns?.inode, c.row.netns?.started])).toEqual([
      [20, undefined],
      [30, 500],
    ]);
  });

  it('procfs cannot read a namespace no process is in, and says ss can', async () => {
    const platform = podHost();
    platform.files.set('/proc/self/mountinfo', '45 42 0:4 net:[40] /run/netns/empty rw shared:4 - nsfs nsfs rw\n');
    const provider = new NetnsProvider(platform, { choice: { kind: 'name', name: 'empty' }, source: 'procfs', procRoot: '/proc' });
    await expect(provider.read()).rejects.toThrow(/no process is in it.*only --source netlink or ss read it, entering it/);
  });
});

describe('NetnsProvider with ss', () => {
  const ssText = readFileSync(new URL('../../fixtures/linux-ss-tanoie-park-sockets-kernel6.txt', import.meta.url), 'utf8');

  it('runs ss inside each other namespace through nsenter (an argv), and directly in its own', async () => {
    const platform = podHost();
    platform.files.set('/proc/self/mounts', 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n');
    platform.commands = [ssAnswers(ssText)];
    const provider = new NetnsProvider(platform, { choice: { kind: 'all' }, source: 'ss', procRoot: '/proc' });
    const reading = await provider.read();
    expect(platform.ran.map((argv) => argv.slice(0, 4))).toEqual([
      ['ss', '-t', '-a', '-n'],
      ['nsenter', '--net=/run/netns/web', '--', 'ss'],
      ['nsenter', '--net=/proc/300/ns/net', '--', 'ss'],
    ]);
    const perNamespace = reading.rows.filter((r) => r.netns?.inode === 20).length;
    expect(perNamespace).toBeGreaterThan(0);
    expect(reading.rows.length).toBe(3 * perNamespace);
  });

  it('auto falls back to procfs, once, with a notice, when nsenter cannot enter', async () => {
    const platform = podHost();
    platform.files.set('/proc/self/mounts', 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n');
    platform.commands = [
      (argv) =>
        argv[0] === 'nsenter' ? { stdout: '', stderr: "nsenter: reassociate to namespace 'ns/net' failed: Operation not permitted\n", exitCode: 1 } : { stdout: ssText, stderr: '', exitCode: 0 },
    ];
    const provider = new NetnsProvider(platform, { choice: { kind: 'all' }, source: 'auto', procRoot: '/proc' });
    const reading = await provider.read();
    expect(provider.name).toBe('procfs');
    expect(reading.notices.filter((n) => n.includes('instead')).length).toBe(1);
    expect(reading.notices.some((n) => /Operation not permitted.*no tcp_info: idle is not measured/.test(n))).toBe(true);
    expect(reading.rows.filter((r) => r.netns?.inode === 30).map((r) => r.pid)).toEqual([300]);
  });
});

describe('NetnsProvider with netlink (sock_diag opened inside each namespace by its worker)', () => {
  const ssText = readFileSync(new URL('../../fixtures/linux-ss-tanoie-park-sockets-kernel6.txt', import.meta.url), 'utf8');
  const inet = readFixtureBytes('linux-sock-diag-inet-park-sockets-kernel6.bin');
  const inet6 = readFixtureBytes('linux-sock-diag-inet6-park-sockets-kernel6.bin');

  /**
   * A channel answering every dump with the captured park-sockets tables (by the request's family:
   * the byte after the 16-byte nlmsghdr), recording the namespace each dump was asked in;
   * `refuse(netns)` gives the error a namespace's dump fails with.
   */
  function channel(refuse: (netns: NetnsTarget) => Error | undefined = () => undefined) {
    const dumpedIn: (string | undefined)[] = [];
    const open = () => ({
      dump: async ({ request, netns }: SockDiagDumpRequest, onDatagram: (bytes: Uint8Array) => void) => {
        const refusal = netns && refuse(netns);
        if (refusal) throw refusal;
        dumpedIn.push(netns ? `${netns.path} net:[${netns.inode}]` : undefined);
        onDatagram(capturedReplyTo(request, inet, inet6));
      },
      close: () => undefined,
    });
    return { dumpedIn, open };
  }
  const hostWithSs = () => {
    const platform = podHost();
    platform.files.set('/proc/self/mounts', 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n');
    // This process's own tables (the host's dump's request socket is not in them: its age is not needed).
    platform.files.set('/proc/net/tcp', '  sl  local_address rem_address   st\n');
    platform.files.set('/proc/net/tcp6', '  sl  local_address rem_address   st\n');
    platform.commands = [ssAnswers(ssText)];
    return platform;
  };

  it('auto reads every namespace through netlink: its own directly, the others entered by file and inode; no process is run', async () => {
    const platform = hostWithSs();
    const { dumpedIn, open } = channel();
    const provider = new NetnsProvider(platform, { choice: { kind: 'all' }, source: 'auto', procRoot: '/proc', netlinkFirst: true, netlink: { openChannel: open } });
    const reading = await provider.read();
    expect(provider.name).toBe('netlink');
    expect(reading.source).toBe('netlink');
    expect(reading.notices).toEqual([]);
    expect(platform.ran).toEqual([]);
    // One dump per namespace (both families in one walk: TCPDIAG_GETSOCK).
    expect(dumpedIn.map(String).sort()).toEqual(['/proc/300/ns/net net:[30]', '/run/netns/web net:[20]', 'undefined']);
    const perNamespace = reading.rows.filter((r) => r.netns?.inode === 20).length;
    expect(perNamespace).toBeGreaterThan(10);
    expect(reading.rows.length).toBe(3 * perNamespace);
  });

  it('auto: where the worker cannot enter (EPERM: no CAP_SYS_ADMIN), ss through nsenter, once, with one notice', async () => {
    const platform = hostWithSs();
    const refused = (netns: NetnsTarget) =>
      new NetnsEntryError(`netlink: cannot enter network namespace ${netns.path} (EPERM: setns needs CAP_SYS_ADMIN, opening /proc/<pid>/ns/net CAP_SYS_PTRACE)`, 'EPERM', false);
    const provider = new NetnsProvider(platform, { choice: { kind: 'all' }, source: 'auto', procRoot: '/proc', netlinkFirst: true, netlink: { openChannel: channel(refused).open } });
    const first = await provider.read();
    expect(provider.name).toBe('ss');
    expect(first.notices.filter((n) => n.includes('instead'))).toEqual([
      expect.stringMatching(/^netlink: cannot enter network namespace \S+ \(EPERM: setns needs CAP_SYS_ADMIN.*; reading other network namespaces through ss \(nsenter\) instead/),
    ]);
    expect(
      platform.ran
        .filter((argv) => argv[0] === 'nsenter')
        .map((argv) => argv[1])
        .sort(),
    ).toEqual(['--net=/proc/300/ns/net', '--net=/run/netns/web']);
    expect(new Set(first.rows.map((r) => r.netns?.inode))).toEqual(new Set([10, 20, 30]));
    const second = await provider.read();
    expect(second.notices.filter((n) => n.includes('instead'))).toEqual([]);
  });

  it('auto: a namespace that is gone is not a reason to fall back: it alone is not read, the others are, through netlink', async () => {
    const platform = hostWithSs();
    const gone = (netns: NetnsTarget) => (netns.inode === 30 ? new NetnsEntryError(`netlink: cannot open ${netns.path} (ENOENT): the network namespace is gone`, 'ENOENT', true) : undefined);
    const provider = new NetnsProvider(platform, { choice: { kind: 'all' }, source: 'auto', procRoot: '/proc', netlinkFirst: true, netlink: { openChannel: channel(gone).open } });
    const reading = await provider.read();
    expect(provider.name).toBe('netlink');
    expect(platform.ran).toEqual([]);
    expect(reading.unreadNetns).toEqual([30]);
    expect(reading.notices).toEqual([
      '1 of 3 network namespaces not read (nothing is known of their connections: none is shown): netns docker abababababab (net:[30]): netlink: cannot open /proc/300/ns/net (ENOENT): the network namespace is gone',
    ]);
    expect(new Set(reading.rows.map((r) => r.netns?.inode))).toEqual(new Set([10, 20]));
  });

  it('a namespace no process is in: its SYN_RECEIVED takes its timeout count from /proc/net/tcp read by the worker inside it (was: age not read, check UNKNOWN)', async () => {
    const platform = hostWithSs();
    for (const path of ['/proc/200/ns/net', '/proc/200/fd/3']) platform.links.delete(path);
    // The procfs capture of the same sessions (another run: its request socket's ports made this dump's
    // 46323 <- 35802), the header and SYN_RECV rows only, as the worker keeps them.
    const procText = readFileSync(new URL('../../fixtures/linux-proc-net-tcp-tcp6-park-sockets-kernel6.txt', import.meta.url), 'utf8');
    const split = procText.indexOf('  sl', procText.indexOf('  sl') + 1);
    const synRecvOnly = (text: string) =>
      text
        .split('\n')
        .filter((line, i) => i === 0 || line.trim().split(/\s+/)[3] === '03')
        .join('\n')
        .replaceAll('0100007F:DB45', '0100007F:B4F3')
        .replaceAll('0100007F:DAEA', '0100007F:8BDA');
    const tables: Record<string, string> = { 'net/tcp': synRecvOnly(procText.slice(0, split).replace(/^[^\n]*\n/, '')), 'net/tcp6': synRecvOnly(procText.slice(split)) };
    const readIn: string[] = [];
    const { open } = channel();
    const openWithRead = () => ({
      ...open(),
      readInNetns: async (netns: NetnsTarget, files: readonly string[], state: string) => {
        readIn.push(`${netns.path} net:[${netns.inode}] ${files.join(',')} st ${state}`);
        return files.map((file) => ({ text: tables[file]! }));
      },
    });
    const provider = new NetnsProvider(platform, { choice: { kind: 'name', name: 'web' }, source: 'netlink', procRoot: '/proc', netlink: { openChannel: openWithRead } });
    const reading = await provider.read();
    expect(readIn).toEqual(['/run/netns/web net:[20] net/tcp st 03', '/run/netns/web net:[20] net/tcp6 st 03']);
    expect(reading.dwellUnknown).toBeUndefined();
    expect(reading.notices).toEqual([]);
    // procfs's timeout count (2) and timer (2.04 s left of 4 s): 1 + 2 + 1.96 s in SYN_RECEIVED.
    const request = reading.rows.find((r) => r.state === 'SYN_RECEIVED')!;
    expect(request).toMatchObject({ retransmits: 2, timer: { name: 'on', remainingMs: 2040 } });
    expect(kernelStateAgeMs(request)).toBe(4960);
  });

  it('a process in it whose /proc/<pid>/net/tcp fails to read (it exited since it was found): the worker reads the table inside the namespace instead', async () => {
    const platform = hostWithSs();
    platform.files.set('/proc/200/net/tcp', Object.assign(new Error('ENOENT: /proc/200/net/tcp'), { code: 'ENOENT' }));
    // The same request socket as the dump's (46323 <- 35802): st 03, 2 timeouts, 2.04 s left.
    const table = '  sl  local_address rem_address   st\n   0: 0100007F:B4F3 0100007F:8BDA 03 00000000:00000000 01:000000CC 00000002     0        0 0 0 00000000a4a1360c\n';
    const readIn: string[] = [];
    const { open } = channel();
    const openWithRead = () => ({
      ...open(),
      readInNetns: async (netns: NetnsTarget, files: readonly string[]) => {
        readIn.push(`${netns.path} ${files.join(',')}`);
        return files.map((file) => ({ text: file === 'net/tcp' ? table : '  sl  local_address\n' }));
      },
    });
    const provider = new NetnsProvider(platform, { choice: { kind: 'pid', pid: 200 }, source: 'netlink', procRoot: '/proc', netlink: { openChannel: openWithRead } });
    const reading = await provider.read();
    expect(readIn).toEqual(['/run/netns/web net/tcp', '/run/netns/web net/tcp6']);
    expect(reading.dwellUnknown).toBeUndefined();
    expect(reading.rows.find((r) => r.state === 'SYN_RECEIVED')).toMatchObject({ retransmits: 2, timer: { name: 'on', remainingMs: 2040 } });
  });

  // Namespace 20 is held by pid 200 and by the `ip netns` mount /run/netns/web: the choice names one
  // holder; that one goes while the other stays, then the other goes too.
  for (const [asked, choice, dropAsked, dropOther] of [
    ['PID (the process exits; the mount stays)', { kind: 'pid', pid: 200 }, 'pid', 'mount'],
    ['PATH /proc/PID/ns/net (the process exits; the mount stays)', { kind: 'path', path: '/proc/200/ns/net' }, 'pid', 'mount'],
    ['NAME (ip netns delete; a process stays in it)', { kind: 'name', name: 'web' }, 'mount', 'pid'],
  ] as const) {
    it(`--netns ${asked}: the namespace still held is followed (same inode, not gone); gone only when nothing holds it`, async () => {
      const platform = hostWithSs();
      const drop = (holder: 'pid' | 'mount') => {
        if (holder === 'mount') platform.files.set('/proc/self/mountinfo', '');
        else for (const path of ['/proc/200/ns/net', '/proc/200/fd/3']) platform.links.delete(path);
      };
      const { dumpedIn, open } = channel();
      const provider = new NetnsProvider(platform, { choice, source: 'netlink', procRoot: '/proc', netlink: { openChannel: open } });
      const first = await provider.read();
      expect(new Set(first.rows.map((r) => r.netns?.inode))).toEqual(new Set([20]));
      drop(dropAsked);
      dumpedIn.length = 0;
      const second = await provider.read();
      expect(second.goneNetns).toBeUndefined();
      if (dropAsked === 'mount') expect(second.notices).toEqual([]);
      else {
        // No process in it now: the capture's SYN_RECEIVED has no /proc to give its age (fail closed).
        expect(second.notices).toEqual([expect.stringMatching(/^netns web \(net:\[20\]\): the timeout count of 1 SYN_RECEIVED socket .*no process is in the namespace/)]);
        expect(second.dwellUnknown).toEqual([expect.stringContaining('netns web (net:[20]): the age of 1 SYN_RECEIVED socket not read')]);
      }
      expect(second.rows.length).toBe(first.rows.length);
      expect(new Set(second.rows.map((r) => r.netns?.inode))).toEqual(new Set([20]));
      // Entered through the holder that stays, checked against the same inode.
      expect(new Set(dumpedIn)).toEqual(new Set([dropAsked === 'pid' ? '/run/netns/web net:[20]' : '/proc/200/ns/net net:[20]']));
      drop(dropOther);
      const third = await provider.read();
      expect(third.goneNetns?.map((n) => n.inode)).toEqual([20]);
      expect(third.rows).toEqual([]);
      await expect(provider.read()).rejects.toThrow(NetnsNotFoundError);
    });
  }

  it('--source netlink: a namespace no process is in (an ip netns mount only) is read too', async () => {
    const platform = hostWithSs();
    platform.files.set('/proc/self/mountinfo', '45 42 0:4 net:[40] /run/netns/empty rw shared:4 - nsfs nsfs rw\n');
    const { dumpedIn, open } = channel();
    const provider = new NetnsProvider(platform, { choice: { kind: 'name', name: 'empty' }, source: 'netlink', procRoot: '/proc', netlink: { openChannel: open } });
    const reading = await provider.read();
    expect(dumpedIn).toEqual(['/run/netns/empty net:[40]']);
    expect(reading.rows.length).toBeGreaterThan(10);
    expect(reading.rows.every((r) => r.netns?.inode === 40 && r.netns.names?.[0] === 'empty')).toBe(true);
  });
});
