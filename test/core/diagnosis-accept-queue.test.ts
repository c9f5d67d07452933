import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { DiagnosisIndex, diagnoseAll, diagnoseConnection, readByDiagnosis } from '../../src/core/diagnosis.js';
import { evaluateAll, type ConnectionView } from '../../src/core/evaluate.js';
import { FirstSightScreen } from '../../src/core/first-sight-screen.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { advance, emptyTrackerState } from '../../src/core/tracker.js';
import { parseProcNetTcp } from '../../src/sources/linux/parse-procfs.js';
import { parseSs } from '../../src/sources/linux/parse-ss.js';
import { readFixture } from '../fixture.js';

// Connections the kernel completed and the application never accepted, as captured
// (linux-ss-tanoie-accept-queue-kernel6.txt, scripts/park-sockets.py --accept-queue): listener
// 127.0.0.1:33605 (backlog 8) with one accepted idle pair (client 38864), one never accepted and
// silent (client 38866), one never accepted whose client sent 5 bytes (38874); [::1]:45187 with
// one never accepted (client 45640); 127.0.0.1:60223 (backlog 0) full with one (client 57466).
// Their server sides are ESTABLISHED with ino:0; tcp_info of the silent one equals the accepted
// one's (segs_in:2, no bytes, lastsnd = lastrcv = its age): only the inode tells them apart.

const T0 = Date.parse('2026-12-02T13:04:30Z');
const UPTIME_MS = 10 * 86_400_000;

function viewsOf(rows: SocketRow[], idleMs = 1000): ConnectionView[] {
  const state = advance(emptyTrackerState(), { takenAtMs: T0, rows, completeProtocols: ['tcp', 'tcp6'] }).state;
  const policy = defaultPolicy();
  policy.warning.idleMs = idleMs;
  return evaluateAll(state, T0, policy).views;
}

const ssRows = () => parseSs(readFixture('linux-ss-tanoie-accept-queue-kernel6.txt'), { uptimeMs: UPTIME_MS }).rows;
const at = (views: ConnectionView[], local: string, remote: string) => {
  const view = views.find((v) => `${v.row.local.address}:${v.row.local.port}` === local && `${v.row.remote.address}:${v.row.remote.port}` === remote);
  if (!view) throw new Error(`no ${local} -> ${remote}`);
  return view;
};
const diagnose = (views: ConnectionView[], local: string, remote: string) => diagnoseConnection(at(views, local, remote), new DiagnosisIndex(views));

describe('a connection waiting in its listener’s accept queue (captured ss -tanoie)', () => {
  it('server side never accepted: waiting to be accepted, with the listener’s accept queue as evidence, and no keepalive advice', () => {
    const views = viewsOf(ssRows());
    const finding = diagnose(views, '127.0.0.1:33605', '127.0.0.1:38866');
    expect(finding.code).toBe('not-accepted');
    expect(finding.summary).toBe('waiting in the accept queue of 127.0.0.1:33605: the kernel completed the handshake, the application has not accepted it');
    expect(finding.evidence).toContain('the listener 127.0.0.1:33605 has 2 connections in its accept queue (backlog 8)');
    expect(finding.evidence.some((e) => e.startsWith('no process holds it (inode 0)'))).toBe(true);
    expect(finding.evidence.join('\n')).not.toMatch(/spoke last|keepalive/);
    expect(finding.nextStep).toContain('has not called accept()');
    expect(finding.nextStep).not.toContain('enable TCP keepalive');
    // Its idle flag stays: it is idle.
    expect(at(views, '127.0.0.1:33605', '127.0.0.1:38866').flag?.kind).toBe('idle');
  });

  it('bytes the client sent wait unread in it: not-accepted, not "the local application is not reading"', () => {
    const finding = diagnose(viewsOf(ssRows()), '127.0.0.1:33605', '127.0.0.1:38874');
    expect(finding.code).toBe('not-accepted');
    expect(finding.evidence).toContain('5 bytes from the peer wait in it unread (Recv-Q): the application can read them only after accept()');
  });

  it('IPv6, and a full queue (backlog 0) says full', () => {
    const views = viewsOf(ssRows());
    expect(diagnose(views, '::1:45187', '::1:45640')).toMatchObject({ code: 'not-accepted', summary: expect.stringContaining('accept queue of [::1]:45187:') });
    expect(diagnose(views, '127.0.0.1:60223', '127.0.0.1:57466').evidence).toContain('the listener 127.0.0.1:60223 has 1 connection in its accept queue (backlog 0): full');
  });

  it('the accepted one on the same listener, with the same tcp_info, stays plain idle', () => {
    const views = viewsOf(ssRows());
    expect(diagnose(views, '127.0.0.1:33605', '127.0.0.1:38864').code).toBe('idle');
    expect(diagnose(views, '127.0.0.1:33605', '127.0.0.1:38864').nextStep).toContain('enable TCP keepalive');
  });

  it('client side: says its server side waits unaccepted, and what it sent waits unread there', () => {
    const views = viewsOf(ssRows());
    const silent = diagnose(views, '127.0.0.1:38866', '127.0.0.1:33605');
    expect(silent.code).toBe('peer-not-accepted');
    expect(silent.summary).toBe('its server side on this host waits in the accept queue of 127.0.0.1:33605: the server application has not accepted it, so it has read nothing sent on it');
    expect(silent.nextStep).not.toContain('keepalive below');
    expect(diagnose(views, '127.0.0.1:38874', '127.0.0.1:33605').evidence).toContain('5 bytes sent on it wait unread on the server side (its Recv-Q)');
    expect(diagnose(views, '::1:45640', '::1:45187').code).toBe('peer-not-accepted');
    // The accepted pair's client: its server side has a file.
    expect(diagnose(views, '127.0.0.1:38864', '127.0.0.1:33605').code).toBe('idle');
  });

  it('a client whose server side is not in the table gets nothing new (its counters equal an accepted one’s)', () => {
    const rows = ssRows().filter((r) => !(r.local.port === 33605 && r.remote.port === 38866));
    expect(diagnose(viewsOf(rows), '127.0.0.1:38866', '127.0.0.1:33605').code).toBe('idle');
  });

  it('names the listener’s process where known', () => {
    const rows = ssRows().map((r) => (r.state === 'LISTEN' && r.local.port === 33605 ? { ...r, pid: 812, process: 'api' } : r));
    const views = viewsOf(rows);
    expect(diagnose(views, '127.0.0.1:33605', '127.0.0.1:38866').summary).toContain('accept queue of 127.0.0.1:33605 (api[812]):');
    expect(diagnose(views, '127.0.0.1:38866', '127.0.0.1:33605').nextStep).toContain('The application owning 127.0.0.1:33605 (api[812]) has not called accept()');
  });

  it('a source without inodes says nothing new (inode unknown is not 0)', () => {
    const rows = ssRows().map(({ inode: _, ...r }) => r);
    const views = viewsOf(rows);
    expect(diagnose(views, '127.0.0.1:33605', '127.0.0.1:38866').code).toBe('idle');
    expect(diagnose(views, '127.0.0.1:38866', '127.0.0.1:33605').code).toBe('idle');
  });

  it('an inode-0 ESTABLISHED whose local endpoint is no listener’s is not said to wait in a queue', () => {
    const rows = ssRows().filter((r) => !(r.state === 'LISTEN' && r.local.port === 33605));
    expect(diagnose(viewsOf(rows), '127.0.0.1:33605', '127.0.0.1:38866').code).toBe('idle');
  });

  it('the listener of another namespace is not this connection’s', () => {
    const other = { inode: 4026532001 };
    const rows = ssRows().map((r) => (r.state === 'LISTEN' && r.local.port === 33605 ? { ...r, netns: other } : r));
    expect(diagnose(viewsOf(rows), '127.0.0.1:33605', '127.0.0.1:38866').code).toBe('idle');
  });

  it('the same findings from the views readByDiagnosis picks (plus the flagged) as from the whole table, and the first-sight screen keeps the inode-0 rows', () => {
    const views = viewsOf(ssRows(), 3_600_000); // nothing idle is flagged
    const pick = (v: ConnectionView) => v.row.local.port === 38866;
    const whole = diagnoseAll(views, {}, pick).byConnection.get(at(views, '127.0.0.1:38866', '127.0.0.1:33605').connection.key);
    const read = readByDiagnosis(views);
    const subset = views.filter((v) => read(v) || pick(v));
    const part = diagnoseAll(subset, {}, pick).byConnection.get(at(views, '127.0.0.1:38866', '127.0.0.1:33605').connection.key);
    expect(whole?.code).toBe('peer-not-accepted');
    expect(part).toEqual(whole);
    const screen = FirstSightScreen.of(defaultPolicy())!;
    const server = ssRows().find((r) => r.local.port === 33605 && r.remote.port === 38866)!;
    expect(screen.leavesOut(server)).toBe(false);
    expect(screen.leavesOut({ ...server, inode: 1276894 })).toBe(true);
  });
});

describe('SO_REUSEPORT group (rows written for the kind)', () => {
  it('says it waits in one of the group’s queues, and names the owner only when all share it', () => {
    const listen = (inode: number, queue: number, pid?: number): SocketRow => ({
      protocol: 'tcp',
      local: { address: '0.0.0.0', port: 8080 },
      remote: { address: '0.0.0.0', port: 0 },
      state: 'LISTEN',
      rawState: 'LISTEN',
      inode,
      receiveQueue: queue,
      acceptBacklog: 128,
      ...(pid ? { pid, process: 'nginx' } : {}),
    });
    const child: SocketRow = {
      protocol: 'tcp',
      local: { address: '10.0.0.1', port: 8080 },
      remote: { address: '10.0.0.9', port: 50000 },
      state: 'ESTABLISHED',
      rawState: 'ESTAB',
      inode: 0,
      activity: { lastSendAgoMs: 9000, lastReceiveAgoMs: 9000 },
    };
    const same = viewsOf([listen(11, 0, 7), listen(12, 1, 7), child]);
    const f = diagnose(same, '10.0.0.1:8080', '10.0.0.9:50000');
    expect(f.code).toBe('not-accepted');
    expect(f.summary).toContain('accept queue of 0.0.0.0:8080 (nginx[7]):');
    expect(f.evidence).toContain('it waits in the queue of one of 2 listeners on this host sharing the port (SO_REUSEPORT), accept queues 0/128 (nginx[7]), 1/128 (nginx[7])');
    const mixed = viewsOf([listen(11, 0, 7), listen(12, 1), child]);
    expect(diagnose(mixed, '10.0.0.1:8080', '10.0.0.9:50000').summary).toContain('accept queue of 0.0.0.0:8080:');
  });
});

describe('procfs capture of the same namespace', () => {
  it('inode 0 and the listener’s rx_queue: the same finding, without a backlog', () => {
    const { rows } = parseProcNetTcp(readFixture('linux-proc-net-tcp-tcp6-accept-queue-kernel6.txt'));
    const views = viewsOf(rows);
    const finding = diagnose(views, '127.0.0.1:33605', '127.0.0.1:38866');
    expect(finding.code).toBe('not-accepted');
    expect(finding.evidence).toContain('the listener 127.0.0.1:33605 has 2 connections in its accept queue');
    expect(diagnose(views, '127.0.0.1:33605', '127.0.0.1:38864').code).not.toBe('not-accepted');
  });
});
