import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AF_INET, SockDiagParser, sockDiagRequest } from '../../src/sources/linux/parse-sock-diag.js';
import { openSockDiagChannel, resolveKoffi } from '../../src/sources/linux/sock-diag-dump.js';
import { ParkedNamespace, whyNotRunnable } from './parked-namespace.js';

// The netlink (sock_diag) source against ss and procfs on the real kernel: the same parked sockets,
// read three ways in one namespace, must give the same rows.

type Row = {
  state: string;
  protocol: string;
  local: { address: string; port: number };
  remote: { address: string; port: number };
  inode: number | null;
  uid: number | null;
  sendQueue: number | null;
  receiveQueue: number | null;
  pid: number | null;
};

const skip = whyNotRunnable() ?? (resolveKoffi() ? undefined : 'the koffi library is not installed');
if (skip) console.warn(`skipping netlink end-to-end tests: ${skip}`);

describe.skipIf(skip !== undefined)('netlink source on the real kernel', () => {
  const ns = new ParkedNamespace();
  beforeAll(() => ns.start(), 20_000);
  afterAll(() => ns.stop());

  const list = async (source: string) => {
    const result = await ns.tcpdwell(['list', '--source', source, '--json']);
    expect(result.code, `${source}: ${result.stderr}`).toBe(0);
    expect(result.stderr, source).toBe('');
    return JSON.parse(result.stdout) as Row[];
  };
  const flow = (r: Row) => `${r.protocol} ${r.local.address}:${r.local.port} ${r.remote.address}:${r.remote.port}`;
  const byFlow = (rows: Row[]) => new Map(rows.map((r) => [flow(r), r]));

  it('netlink, ss and procfs give the same rows: states, endpoints, inode, uid, queues', async () => {
    const netlink = await list('netlink');
    const ss = await list('ss');
    const procfs = await list('procfs');
    // The parked sessions are all there, in their states.
    expect(netlink.length).toBe(ns.parked.length);
    const pick = (r: Row) => [flow(r), r.state, r.inode].join(' ');
    expect(netlink.map(pick).sort()).toEqual(ss.map(pick).sort());
    expect(netlink.map(pick).sort()).toEqual(procfs.map(pick).sort());
    // The busy pairs move data between the three reads: their queues are compared only where still.
    const busyPorts = new Set(ns.parked.filter((p) => p.role.startsWith('busy')).flatMap((p) => [p.local.port, p.remote?.port]));
    const still = (r: Row) => !busyPorts.has(r.local.port) && !busyPorts.has(r.remote.port);
    const ssRows = byFlow(ss);
    const procRows = byFlow(procfs);
    let compared = 0;
    for (const row of netlink) {
      const fromSs = ssRows.get(flow(row))!;
      const fromProc = procRows.get(flow(row))!;
      // ss runs without -e where no cgroup2 is mounted (ip netns exec): then it has no uid, procfs does.
      expect(row.uid, flow(row)).toBe(fromProc.uid);
      if (fromSs.uid !== null) expect(row.uid, flow(row)).toBe(fromSs.uid);
      expect(row.pid, flow(row)).toBe(fromSs.pid);
      if (!still(row)) continue;
      compared++;
      expect([row.receiveQueue, row.sendQueue], flow(row)).toEqual([fromSs.receiveQueue, fromSs.sendQueue]);
      expect(row.receiveQueue, flow(row)).toBe(fromProc.receiveQueue);
      // A listener's Send-Q is its backlog limit in sock_diag; /proc/net/tcp prints 0 there.
      if (row.state !== 'LISTEN') expect(row.sendQueue, flow(row)).toBe(fromProc.sendQueue);
    }
    expect(compared).toBeGreaterThan(netlink.length / 2);
    // Some queue is not empty (the backlog-filling listener, the unread half-closed data), so the comparison is not of zeros only.
    expect(netlink.some((r) => (r.receiveQueue ?? 0) > 0 || (r.state !== 'LISTEN' && (r.sendQueue ?? 0) > 0))).toBe(true);
  }, 60_000);

  it('check --source netlink flags the parked half-open and half-closed sessions, as with ss', async () => {
    await ns.waitUntilParkedFor(2000);
    const args = ['--json', '--no-state', '--half-open', '1s', '--half-close', '1s', '--idle', 'off'];
    const withNetlink = await ns.tcpdwell(['check', '--source', 'netlink', ...args]);
    const withSs = await ns.tcpdwell(['check', '--source', 'ss', ...args]);
    expect(withNetlink.code).toBe(withSs.code);
    type Report = { source: string; flagged: (Row & { flag: { kind: string } | null })[] };
    const a = JSON.parse(withNetlink.stdout) as Report;
    const b = JSON.parse(withSs.stdout) as Report;
    expect(a.source).toBe('netlink');
    const kinds = (report: Report) => report.flagged.map((f) => `${flow(f)} ${f.state} ${f.flag?.kind}`).sort();
    expect(kinds(a)).toEqual(kinds(b));
    expect(a.flagged.length).toBeGreaterThan(0);
  }, 60_000);
});

describe.skipIf(skip !== undefined)('the sock_diag channel', () => {
  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  // A few thousand sockets with tcp_info: a dump of dozens of datagrams (~90 sockets fill one).
  const populated = new ParkedNamespace();
  beforeAll(() => populated.populate(3000), 60_000);
  afterAll(() => populated.stop());
  const inPopulated = (sequence: number) => ({
    request: sockDiagRequest({ family: AF_INET, withTcpInfo: true, sequence, littleEndian }),
    netns: { path: `/run/netns/${populated.name}` },
  });

  it('dumps with every recv() off the main thread: each datagram is handed over in an event-loop turn of its own, timers run meanwhile', async () => {
    const channel = openSockDiagChannel({ littleEndian });
    // The event loop's turns, counted by a self-renewing setImmediate (one per turn, in its check phase).
    let turns = 0;
    let running = true;
    const turn = () => {
      turns++;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const turnOfDatagram: number[] = [];
    const parser = new SockDiagParser({ littleEndian });
    const own = new SockDiagParser({ littleEndian });
    try {
      // Another namespace (its socket opened by the namespace worker), then this process's own.
      await channel.dump(inPopulated(1), (bytes) => {
        turnOfDatagram.push(turns);
        parser.datagram(bytes);
      });
      await channel.dump({ request: sockDiagRequest({ family: AF_INET, withTcpInfo: true, sequence: 2, littleEndian }) }, (bytes) => own.datagram(bytes));
    } finally {
      running = false;
      clearInterval(timer);
      channel.close();
    }
    const result = parser.finish();
    expect(result.problems).toEqual([]);
    expect(own.finish().problems).toEqual([]);
    expect(result.rows.length).toBeGreaterThan(2900);
    expect(turnOfDatagram.length).toBeGreaterThan(10);
    // No two datagrams in one turn: a thread handing them over in a batch (a worker's message
    // queue, drained in one go) would hold the loop for the whole batch's parse.
    expect(new Set(turnOfDatagram).size).toBe(turnOfDatagram.length);
    expect(ticks).toBeGreaterThan(0);
  }, 30_000);

  it('a dump whose channel is closed under it fails at the next datagram, and one on a closed channel fails at once', async () => {
    const channel = openSockDiagChannel({ littleEndian });
    let seen = 0;
    await expect(
      channel.dump(inPopulated(3), () => {
        if (++seen === 1) channel.close();
      }),
    ).rejects.toThrow(/^netlink: the channel is closed/);
    expect(seen).toBe(1);
    await expect(channel.dump({ request: sockDiagRequest({ family: AF_INET, withTcpInfo: false, sequence: 4, littleEndian }) }, () => undefined)).rejects.toThrow(/^netlink: the channel is closed/);
  }, 30_000);
});
