import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { DiagnosisIndex, diagnoseAll, diagnoseConnection, diagnoseGroups, pathQuality, type HostFacts } from '../../src/core/diagnosis.js';
import { evaluateAll, type ConnectionView } from '../../src/core/evaluate.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { advance, emptyTrackerState, type TrackerState } from '../../src/core/tracker.js';

const T0 = Date.parse('2026-11-21T00:00:00Z');
let nextPort = 40_000;
const row = (state: SocketRow['state'], extra: Partial<SocketRow> = {}): SocketRow => ({
  protocol: 'tcp',
  local: { address: '10.0.0.1', port: nextPort++ },
  remote: { address: '10.0.0.5', port: 5432 },
  state,
  rawState: state,
  inode: nextPort,
  ...extra,
});

/** Polls on a fake clock: each list of rows is one snapshot, `stepMs` apart; returns the views at the last. */
function track(polls: SocketRow[][], stepMs = 60_000): { views: ConnectionView[]; state: TrackerState } {
  let state = emptyTrackerState();
  polls.forEach((rows, i) => {
    state = advance(state, { takenAtMs: T0 + i * stepMs, rows, completeProtocols: ['tcp', 'tcp6'] }).state;
  });
  const now = T0 + (polls.length - 1) * stepMs;
  return { views: evaluateAll(state, now, defaultPolicy()).views, state };
}
const find = (views: ConnectionView[], state: SocketRow['state']) => views.find((v) => v.row.state === state)!;
const diagnose = (views: ConnectionView[], state: SocketRow['state'], facts: HostFacts = {}) => diagnoseConnection(find(views, state), new DiagnosisIndex(views, facts));

describe('findings for one connection', () => {
  it('SYN_SENT: lost or filtered SYN, with the retransmission count', () => {
    const synSent = row('SYN_SENT', { retransmits: 5, rtoMs: 2000, timer: { name: 'on', remainingMs: 1000 } });
    const { views } = track([[synSent], [synSent]]);
    const finding = diagnose(views, 'SYN_SENT');
    expect(finding).toMatchObject({ code: 'syn-unanswered', summary: 'SYN or SYN/ACK lost or filtered; the peer may be down', subject: `10.0.0.1:${synSent.local.port} -> 10.0.0.5:5432` });
    expect(finding.evidence).toContain('5 SYN retransmissions, RTO now 2s');
    expect(finding.nextStep).toContain('SYN_RECEIVED for this flow on the peer means the returning SYN/ACK is blocked');
  });

  it('SYN_SENT to a listener on this host with a full accept queue says so', () => {
    const listener = row('LISTEN', {
      local: { address: '127.0.0.1', port: 7001 },
      remote: { address: '0.0.0.0', port: 0 },
      receiveQueue: 1,
      sendQueue: 0,
      acceptBacklog: 0,
      pid: 9,
      process: 'server',
    });
    const synSent = row('SYN_SENT', { remote: { address: '127.0.0.1', port: 7001 }, retransmits: 2 });
    const { views } = track([[listener, synSent]]);
    const finding = diagnose(views, 'SYN_SENT');
    expect(finding.summary).toBe('the listener 127.0.0.1:7001 has a full accept queue and drops SYNs');
    expect(finding.evidence).toContain('the peer is a listener on this host, accept queue 1/0: full, so it drops new SYNs');
    expect(finding.nextStep).toContain('server[9]');
  });

  it("claims no full accept queue where the source gives no backlog (procfs, netstat: a listener's Send-Q is 0 there)", () => {
    const listener = row('LISTEN', { local: { address: '127.0.0.1', port: 7002 }, remote: { address: '0.0.0.0', port: 0 }, receiveQueue: 1, sendQueue: 0 });
    const synSent = row('SYN_SENT', { remote: { address: '127.0.0.1', port: 7002 }, retransmits: 2 });
    const finding = diagnose(track([[listener, synSent]]).views, 'SYN_SENT');
    expect(finding.summary).toBe(
      'the peer is the listener 127.0.0.1:7002 on this host, 1 waiting in its accept queue; this source gives no backlog, so whether the queue is full and drops SYNs is unknown',
    );
    expect(finding.summary).not.toContain('peer may be down');
    expect(finding.evidence).toContain('the peer is a listener on this host, accept queue 1 (its backlog not given by this source)');
    // The group finding says the same, and concludes no firewall (break-it: a full queue, Recv-Q 1 on a backlog-0 listener, read from /proc/net/tcp).
    const clients = Array.from({ length: 3 }, (_, i) => row('SYN_SENT', { local: { address: '127.0.0.1', port: 42_000 + i }, remote: { address: '127.0.0.1', port: 7002 } }));
    const second = { ...listener, inode: 999_001, pid: 12, process: 'py' };
    for (const listeners of [[listener], [listener, second], [{ ...second, receiveQueue: 0 }, listener]]) {
      const [group] = diagnoseGroups(new DiagnosisIndex(track([[...listeners, ...clients]]).views));
      expect(group!.summary).not.toMatch(/firewall|down/);
      expect(group!.summary).toMatch(/this source gives no backlog, so whether (it is|they are) full and drops? SYNs is unknown$/);
      expect(group!.nextStep).toContain('ss -tln');
    }
    // An empty queue is never full (the kernel drops when it holds more than its backlog): the firewall reading stands.
    const [empty] = diagnoseGroups(new DiagnosisIndex(track([[{ ...listener, receiveQueue: 0 }, ...clients]]).views));
    expect(empty!.summary).toContain('does not answer them (a firewall rule on this host, or SYNs dropped)');
  });

  it('SYN_SENT to a listener on this host whose queue is not full: not "the peer may be down" (it listens)', () => {
    const listener = row('LISTEN', { local: { address: '127.0.0.1', port: 7003 }, remote: { address: '0.0.0.0', port: 0 }, receiveQueue: 0, sendQueue: 128, acceptBacklog: 128 });
    const synSent = row('SYN_SENT', { remote: { address: '127.0.0.1', port: 7003 } });
    expect(diagnose(track([[listener, synSent]]).views, 'SYN_SENT').summary).toBe('the listener 127.0.0.1:7003 on this host does not answer: a firewall rule on this host, or SYNs dropped');
  });

  it('FIN_WAIT_2 without an inode from its source (ss without -e): no orphan is claimed', () => {
    const { views } = track([[row('FIN_WAIT_2', { inode: undefined })]]);
    expect(diagnose(views, 'FIN_WAIT_2', { finTimeoutMs: 60_000 }).evidence.join(' ')).not.toContain('orphan');
  });

  it('SYN_RECEIVED: final ACK missing', () => {
    const { views } = track([[row('SYN_RECEIVED', { retransmits: 3, inode: 0 })]]);
    expect(diagnose(views, 'SYN_RECEIVED')).toMatchObject({ code: 'handshake-incomplete', evidence: expect.arrayContaining(['3 SYN/ACK timeouts so far']) });
  });

  it('CLOSE_WAIT: names the process, how many it holds, and whether the leak grows', () => {
    const old = [1, 2, 3].map(() => row('CLOSE_WAIT', { pid: 812, process: 'java' }));
    const fresh = row('ESTABLISHED', { pid: 812, process: 'java' });
    const { views } = track([[...old, fresh], [...old, fresh], Array.from([...old, { ...fresh, state: 'CLOSE_WAIT' as const, rawState: 'CLOSE_WAIT' }])], 5 * 60_000);
    const finding = diagnose(views, 'CLOSE_WAIT');
    expect(finding.code).toBe('socket-leak');
    expect(finding.summary).toBe('the local process has not closed the socket after the peer did');
    expect(finding.evidence).toContain('java[812] holds 4 CLOSE_WAIT sockets; 1 of them seen entering it in the last 10m00s: new ones keep arriving');
    expect(finding.nextStep).toContain('tcpdwell reset --state CLOSE_WAIT --pid 812');

    const quiet = track([old, old], 11 * 60_000).views;
    expect(diagnose(quiet, 'CLOSE_WAIT').evidence).toContain('java[812] holds 3 CLOSE_WAIT sockets; none seen entering it over 11m00s of polling: not growing now');
  });

  it('claims growth only from evidence: sockets first seen already in CLOSE_WAIT prove nothing about when they came', () => {
    const seven = [1, 2, 3, 4, 5, 6, 7].map(() => row('CLOSE_WAIT', { pid: 812, process: 'java' }));
    // One reading: growth cannot be told, however young the sockets look.
    const once = track([seven]).views;
    expect(diagnose(once, 'CLOSE_WAIT').evidence).toContain('java[812] holds 7 CLOSE_WAIT sockets; growth unknown: one reading so far (poll again, or use --window)');
    expect(diagnoseGroups(new DiagnosisIndex(once)).find((f) => f.code === 'socket-leak')!.evidence).toEqual(['growth unknown: one reading so far (poll again, or use --window)']);
    // Two readings with the same seven: not growing.
    const twice = track([seven, seven], 30_000).views;
    expect(diagnoseGroups(new DiagnosisIndex(twice)).find((f) => f.code === 'socket-leak')!.evidence).toEqual(['none seen entering it over 30s of polling: not growing now']);
    // An earlier reading without two of them: those two are new.
    const grown = track([seven.slice(0, 5), seven], 30_000).views;
    expect(diagnoseGroups(new DiagnosisIndex(grown)).find((f) => f.code === 'socket-leak')!.evidence).toEqual(['2 of them seen entering it in the last 10m00s: new ones keep arriving']);
    // Seen entering between the readings 16 and 8 minutes before the last, none since: said so, not dropped.
    const earlier = track([seven.slice(0, 5), seven, seven], 8 * 60_000).views;
    expect(diagnoseGroups(new DiagnosisIndex(earlier)).find((f) => f.code === 'socket-leak')!.evidence).toEqual([
      '2 of them seen entering it over 16m00s of polling, none provably in the last 10m00s',
    ]);
    // The reading before lay an hour back (an hourly cron without kernel timestamps): the newcomer
    // came some time in that hour, which proves nothing about the last 10 minutes.
    const hourly = track([seven.slice(0, 6), seven], 60 * 60_000).views;
    expect(diagnoseGroups(new DiagnosisIndex(hourly)).find((f) => f.code === 'socket-leak')!.evidence).toEqual(['1 of them seen entering it over 1h00m of polling, none provably in the last 10m00s']);
  });

  it('FIN_WAIT_2: the peer has not closed; an orphan dies after tcp_fin_timeout', () => {
    const { views } = track([[row('FIN_WAIT_2', { inode: 0 })]]);
    const finding = diagnose(views, 'FIN_WAIT_2', { finTimeoutMs: 60_000 });
    expect(finding.code).toBe('peer-not-closing');
    expect(finding.evidence).toContain('no process holds it: the kernel drops this orphan after tcp_fin_timeout (1m00s)');
  });

  it('FIN_WAIT_2 from a source without inodes (netstat): no orphan claimed', () => {
    const { inode: _, ...noInode } = row('FIN_WAIT_2');
    const finding = diagnose(track([[noInode]]).views, 'FIN_WAIT_2', { finTimeoutMs: 60_000 });
    expect(finding.evidence.join('\n')).not.toContain('orphan');
  });

  it('idle ESTABLISHED: which side spoke last, keepalive on or off, middleboxes', () => {
    const quietPeer = row('ESTABLISHED', { activity: { lastSendAgoMs: 7_200_000, lastReceiveAgoMs: 7_500_000 }, timer: { name: 'keepalive', remainingMs: 30_000 } });
    const finding = diagnose(track([[quietPeer]]).views, 'ESTABLISHED');
    expect(finding.summary).toBe('idle for 2h00m: no data either way');
    expect(finding.evidence).toEqual(expect.arrayContaining(['last data sent 2h00m ago, received 2h05m ago: this side spoke last', 'keepalive on, next probe in 30s']));
    expect(finding.nextStep).toContain('drop idle sessions silently');
    const noKeepalive = row('ESTABLISHED', { activity: { lastSendAgoMs: 9000, lastReceiveAgoMs: 1000 } });
    expect(diagnose(track([[noKeepalive]]).views, 'ESTABLISHED').evidence).toEqual(
      expect.arrayContaining(['last data sent 9s ago, received 1s ago: the peer spoke last', 'keepalive off (no keepalive timer on the socket)']),
    );

    // A sender stalled by a zero window, its data queued, the persist timer running (the shape
    // `ss -tanoi` gave on this kernel with the reader stopped): not an idle session.
    const stalled = row('ESTABLISHED', { sendQueue: 4_163_072, timer: { name: 'persist', remainingMs: 3000 }, activity: { lastSendAgoMs: 7_200_000, lastReceiveAgoMs: 7_200_000 } });
    const stalledFinding = diagnose(track([[stalled]]).views, 'ESTABLISHED');
    expect(stalledFinding).toMatchObject({ code: 'stalled-zero-window' });
    expect(stalledFinding.summary).toContain('4163072 bytes wait to be sent: the peer advertises a zero window');
    // One timer per socket: with the persist timer shown, keepalive cannot be told.
    expect(stalledFinding.evidence).toContain('keepalive unknown: the kernel shows one timer per socket, and the persist timer runs');
    const unread = row('ESTABLISHED', { receiveQueue: 128_512, activity: { lastSendAgoMs: 7_200_000, lastReceiveAgoMs: 7_200_000 } });
    expect(diagnose(track([[unread]]).views, 'ESTABLISHED')).toMatchObject({ code: 'stalled-unread', summary: expect.stringContaining('128512 bytes have arrived and wait unread') });
  });

  it('tells a silent peer from a lossy path by RTO against SRTT + 4·RTTVAR', () => {
    const silent = row('ESTABLISHED', { rttMs: 20, rttVarMs: 5, rtoMs: 6400, retransmits: 5, timer: { name: 'on', remainingMs: 3000 } });
    expect(pathQuality(silent)).toBe('retransmitting into silence: RTO 6s after 5 retransmissions, against 0.2s from SRTT 20 ms: the peer or the path has gone silent');
    const lossy = row('ESTABLISHED', { rttMs: 40, rttVarMs: 10, rtoMs: 240, totalRetransmits: 37 });
    expect(pathQuality(lossy)).toBe('lossy path: 37 segments retransmitted, but RTO 0.2s stays near SRTT + 4·RTTVAR (0.2s), so ACKs still arrive');
    expect(pathQuality(row('ESTABLISHED', { rttMs: 1, rtoMs: 201 }))).toBeUndefined();
    expect(diagnose(track([[silent]]).views, 'ESTABLISHED').evidence).toContain(pathQuality(silent));
  });
});

describe('findings for groups', () => {
  it('all SYN_SENT to one peer: upstream down or filtered', () => {
    const peer = { address: '10.0.0.5', port: 5432 };
    const rows = Array.from({ length: 14 }, () => row('SYN_SENT', { remote: peer }));
    const groups = diagnoseGroups(new DiagnosisIndex(track([rows, rows]).views));
    expect(groups).toEqual([
      expect.objectContaining({ code: 'upstream-unreachable', subject: '10.0.0.5:5432', summary: 'all 14 connections to 10.0.0.5:5432 are half-open: upstream down or filtered' }),
    ]);
    expect(groups[0]!.connections).toHaveLength(14);
    const mixed = [...rows.slice(0, 3), row('ESTABLISHED', { remote: peer }), row('ESTABLISHED', { remote: peer })];
    expect(diagnoseGroups(new DiagnosisIndex(track([mixed]).views))[0]!.summary).toBe('3 of 5 connections to 10.0.0.5:5432 are half-open: upstream down or filtered');
  });

  it('SYN_SENT to a listener on this host: the group names its accept queue as each connection finding does (never "upstream down")', () => {
    // Written for the test, in the shape ss gives a loopback listener (Recv-Q = accept queue, Send-Q = backlog).
    const local = { address: '127.0.0.1', port: 8080 };
    const full = row('LISTEN', { local, remote: { address: '0.0.0.0', port: 0 }, receiveQueue: 3, sendQueue: 2, acceptBacklog: 2, pid: 9, process: 'app' });
    const clients = Array.from({ length: 3 }, (_, i) => row('SYN_SENT', { local: { address: '127.0.0.1', port: 40_000 + i }, remote: local }));
    const fullViews = track([[full, ...clients]]).views;
    const [group] = diagnoseGroups(new DiagnosisIndex(fullViews));
    expect(group!.summary).toBe('all 3 connections to 127.0.0.1:8080 are half-open: its listener on this host has a full accept queue and drops SYNs');
    expect(group!.evidence).toContain('the peer is a listener on this host (app[9]), accept queue 3/2');
    expect(group!.nextStep).toBe('The application owning 127.0.0.1:8080 (app[9]) does not accept() fast enough, or its backlog is too small.');
    expect(diagnose(fullViews, 'SYN_SENT').summary).toBe('the listener 127.0.0.1:8080 has a full accept queue and drops SYNs');
    const roomy = row('LISTEN', { local, remote: { address: '0.0.0.0', port: 0 }, receiveQueue: 0, sendQueue: 128, acceptBacklog: 128 });
    const [quiet] = diagnoseGroups(new DiagnosisIndex(track([[roomy, ...clients]]).views));
    expect(quiet!.summary).toBe('all 3 connections to 127.0.0.1:8080 are half-open: its listener on this host does not answer them (a firewall rule on this host, or SYNs dropped)');
    expect(quiet!.summary).not.toContain('upstream down');
  });

  it('SO_REUSEPORT: every listener of the group is read, and the full one is named, whichever is listed first', () => {
    // Written for the test: two listeners on one endpoint, as ss -tlnpe lists an SO_REUSEPORT group (Recv-Q = accept queue, Send-Q = backlog).
    const local = { address: '127.0.0.1', port: 8081 };
    const roomy = row('LISTEN', { local, remote: { address: '0.0.0.0', port: 0 }, receiveQueue: 0, sendQueue: 128, acceptBacklog: 128, pid: 9, process: 'app' });
    const full = row('LISTEN', { local, remote: { address: '0.0.0.0', port: 0 }, receiveQueue: 3, sendQueue: 2, acceptBacklog: 2, pid: 10, process: 'app' });
    const clients = Array.from({ length: 3 }, (_, i) => row('SYN_SENT', { local: { address: '127.0.0.1', port: 41_000 + i }, remote: local }));
    for (const listeners of [
      [roomy, full],
      [full, roomy],
    ]) {
      const views = track([[...listeners, ...clients]]).views;
      const [group] = diagnoseGroups(new DiagnosisIndex(views));
      expect(group!.summary).toBe('all 3 connections to 127.0.0.1:8081 are half-open: 1 of its 2 listeners on this host (SO_REUSEPORT) has a full accept queue and drops the SYNs given to it');
      expect(group!.nextStep).toBe('The application owning 127.0.0.1:8081 (app[10]) does not accept() fast enough, or its backlog is too small.');
      const one = diagnose(views, 'SYN_SENT');
      expect(one.summary).toBe('1 of the 2 listeners on 127.0.0.1:8081 (SO_REUSEPORT) has a full accept queue and drops the SYNs given to it');
      expect(one.nextStep).toContain('app[10]');
      expect(one.nextStep).not.toContain('app[9]');
    }
    const [roomyOnly] = diagnoseGroups(new DiagnosisIndex(track([[roomy, { ...roomy, pid: 11 }, ...clients]]).views));
    expect(roomyOnly!.summary).toBe(
      'all 3 connections to 127.0.0.1:8081 are half-open: its 2 listeners on this host (SO_REUSEPORT) do not answer them (a firewall rule on this host, or SYNs dropped)',
    );
    expect(roomyOnly!.evidence).toContain('the peer is 2 listeners on this host sharing the port (SO_REUSEPORT), accept queues 0/128 (app[9]), 0/128 (app[11])');
  });

  it('SO_REUSEPORT: SYN_RECEIVED on a group whose second listener is full is a finding, with every queue', () => {
    const local = { address: '10.0.0.1', port: 8443 };
    const roomy = row('LISTEN', { local, remote: { address: '0.0.0.0', port: 0 }, receiveQueue: 0, sendQueue: 128, acceptBacklog: 128 });
    const full = row('LISTEN', { local, remote: { address: '0.0.0.0', port: 0 }, receiveQueue: 129, sendQueue: 128, acceptBacklog: 128 });
    const embryo = row('SYN_RECEIVED', { local, remote: { address: '203.0.113.7', port: 50_000 }, inode: 0 });
    const groups = diagnoseGroups(new DiagnosisIndex(track([[roomy, full, embryo]]).views));
    expect(groups).toEqual([expect.objectContaining({ code: 'handshakes-piling-up', evidence: ['from 1 source address', 'accept queues 0/128, 129/128 (full)'] })]);
  });

  it('many CLOSE_WAIT in one process: a socket leak', () => {
    const rows = Array.from({ length: 5 }, () => row('CLOSE_WAIT', { pid: 77, process: 'leaky' }));
    const groups = diagnoseGroups(new DiagnosisIndex(track([rows]).views));
    expect(groups).toEqual([
      expect.objectContaining({ code: 'socket-leak', subject: 'leaky[77]', summary: 'leaky[77] holds 5 CLOSE_WAIT sockets: a socket leak (it does not close connections its peers closed)' }),
    ]);
  });

  it('SYN_RECEIVED piling up on a listener, with its accept queue and source count', () => {
    const local = { address: '10.0.0.1', port: 443 };
    const listener = row('LISTEN', { local, remote: { address: '0.0.0.0', port: 0 }, receiveQueue: 129, sendQueue: 128, acceptBacklog: 128 });
    const embryos = Array.from({ length: 12 }, (_, i) => row('SYN_RECEIVED', { local, remote: { address: `203.0.113.${i}`, port: 50_000 + i }, inode: 0 }));
    const groups = diagnoseGroups(new DiagnosisIndex(track([[listener, ...embryos]]).views));
    expect(groups).toEqual([
      expect.objectContaining({
        code: 'handshakes-piling-up',
        summary: '12 handshakes waiting for the final ACK on 10.0.0.1:443: many sources: a SYN flood or spoofed addresses',
        evidence: ['from 12 source addresses', 'accept queue 129/128'],
      }),
    ]);
  });

  it('groups of several peers: in the order the views first name each peer (any state), counting every connection to it', () => {
    // Written for the test (issue 15: only the peers a group may be about are indexed now). Peer B
    // is first named by an ESTABLISHED, before A's SYN_SENT; C fills the ephemeral range with
    // TIME_WAIT; D has one SYN_SENT only (no group).
    const [a, b, c, d] = [
      { address: '10.0.0.5', port: 5432 },
      { address: '10.0.0.7', port: 443 },
      { address: '10.0.0.9', port: 80 },
      { address: '10.0.0.11', port: 22 },
    ];
    const rows = [
      row('ESTABLISHED', { remote: b }),
      row('SYN_SENT', { remote: d }),
      row('SYN_SENT', { remote: a }),
      row('SYN_SENT', { remote: a }),
      row('SYN_SENT', { remote: b }),
      row('TIME_WAIT', { remote: b }),
      ...Array.from({ length: 60 }, () => row('TIME_WAIT', { remote: c })),
      row('SYN_SENT', { remote: b }),
      row('SYN_SENT', { remote: { address: '10.0.0.5', port: 5433 } }), // A's address, another port: another peer
    ];
    const byFlow = new Map(track([rows]).views.map((v) => [v.connection.row.local.port, v]));
    const views = rows.map((r) => byFlow.get(r.local.port)!); // the rows' order, not the ranked one
    const keysOf = (peer: typeof a, state: SocketRow['state']) => views.filter((v) => v.row.remote === peer && v.row.state === state).map((v) => v.connection.key);
    const groups = diagnoseGroups(new DiagnosisIndex(views, { ephemeralPorts: { low: 32_768, high: 32_867 } }));
    expect(groups.map((g) => [g.code, g.subject, g.summary, g.connections])).toEqual([
      ['upstream-unreachable', '10.0.0.7:443', '2 of 4 connections to 10.0.0.7:443 are half-open: upstream down or filtered', keysOf(b, 'SYN_SENT')],
      ['upstream-unreachable', '10.0.0.5:5432', 'all 2 connections to 10.0.0.5:5432 are half-open: upstream down or filtered', keysOf(a, 'SYN_SENT')],
      ['ephemeral-ports', '10.0.0.9:80', '60 TIME_WAIT to 10.0.0.9:80 hold 60% of the 100 ephemeral ports: new connections to it will fail when they run out', keysOf(c, 'TIME_WAIT')],
    ]);
    // Without the port range, no ephemeral-ports group (C is not even indexed).
    expect(diagnoseGroups(new DiagnosisIndex(views)).map((g) => g.subject)).toEqual(['10.0.0.7:443', '10.0.0.5:5432']);
    expect([...new DiagnosisIndex(views).byRemote.keys()]).toEqual(['10.0.0.7:443', '10.0.0.5:5432']);
  });

  it('TIME_WAIT to one peer against the ephemeral port range', () => {
    const rows = Array.from({ length: 60 }, () => row('TIME_WAIT', { remote: { address: '10.0.0.9', port: 80 } }));
    const facts = { ephemeralPorts: { low: 32_768, high: 32_867 } }; // 100 ports
    const groups = diagnoseGroups(new DiagnosisIndex(track([rows]).views, facts));
    expect(groups).toEqual([
      expect.objectContaining({ code: 'ephemeral-ports', summary: '60 TIME_WAIT to 10.0.0.9:80 hold 60% of the 100 ephemeral ports: new connections to it will fail when they run out' }),
    ]);
    expect(diagnoseGroups(new DiagnosisIndex(track([rows.slice(0, 40)]).views, facts))).toEqual([]);
  });

  it('remote groups over a mixed table: each counts every connection to its remote, in the order the remotes first appear among the views', () => {
    // Rows written for the test: remote A has SYN_SENT beside other states, B fills the ephemeral range with TIME_WAIT, C only SYN_SENT, D neither.
    const A = { address: '10.0.0.5', port: 5432 };
    const B = { address: '10.0.0.9', port: 80 };
    const C = { address: 'fd00::7', port: 443 };
    const D = { address: '10.0.0.6', port: 22 };
    const rows = [
      row('ESTABLISHED', { remote: A }),
      ...Array.from({ length: 3 }, () => row('SYN_SENT', { remote: A })),
      row('TIME_WAIT', { remote: A }),
      ...Array.from({ length: 60 }, () => row('TIME_WAIT', { remote: B })),
      ...Array.from({ length: 2 }, () => row('SYN_SENT', { remote: C })),
      ...Array.from({ length: 5 }, () => row('ESTABLISHED', { remote: D })),
    ];
    const { views } = track([rows]);
    const firstSeen = [...new Set(views.map((v) => `${v.row.remote.address}:${v.row.remote.port}`))];
    const order = (subjects: string[]) => [...subjects].sort((a, b) => firstSeen.indexOf(a.replace(/^\[(.*)\]/, '$1')) - firstSeen.indexOf(b.replace(/^\[(.*)\]/, '$1')));

    const withRange = diagnoseGroups(new DiagnosisIndex(views, { ephemeralPorts: { low: 32_768, high: 32_867 } }));
    const upstream = withRange.filter((g) => g.code === 'upstream-unreachable');
    expect(upstream.map((g) => g.subject)).toEqual(order(['10.0.0.5:5432', '[fd00::7]:443']));
    expect(upstream.find((g) => g.subject === '10.0.0.5:5432')!.summary).toBe('3 of 5 connections to 10.0.0.5:5432 are half-open: upstream down or filtered');
    expect(upstream.find((g) => g.subject === '[fd00::7]:443')!.summary).toBe('all 2 connections to [fd00::7]:443 are half-open: upstream down or filtered');
    expect(withRange.filter((g) => g.code === 'ephemeral-ports').map((g) => g.subject)).toEqual(['10.0.0.9:80']);

    // A wider range the TIME_WAITs cannot fill: the same SYN_SENT groups, no port finding.
    const wide = diagnoseGroups(new DiagnosisIndex(views, { ephemeralPorts: { low: 32_768, high: 60_999 } }));
    expect(wide).toEqual(upstream);
    expect(diagnoseGroups(new DiagnosisIndex(views))).toEqual(upstream);
  });
});

describe('diagnoseAll (each finding made when asked for, issue 15)', () => {
  it("gives diagnoseConnection's finding over the whole table for each flagged connection and none for the others, the groups, and keeps none of them", () => {
    // Written for the test: two SYN_SENT to one peer (a group finding), a CLOSE_WAIT of java, a
    // FIN_WAIT_2 and an ESTABLISHED, all there for two minutes, and one FIN_WAIT_2 just opened.
    const stuck = [
      row('SYN_SENT', { remote: { address: '10.0.0.9', port: 443 } }),
      row('SYN_SENT', { remote: { address: '10.0.0.9', port: 443 } }),
      row('CLOSE_WAIT', { pid: 812, process: 'java' }),
      row('FIN_WAIT_2'),
      row('ESTABLISHED'),
    ];
    const fresh = row('FIN_WAIT_2');
    const { views } = track([stuck, stuck, [...stuck, fresh]]);
    const index = new DiagnosisIndex(views, { finTimeoutMs: 60_000 });
    const all = { byConnection: new Map(views.filter((v) => v.flag).map((v) => [v.connection.key, diagnoseConnection(v, index)])), groups: diagnoseGroups(index) };
    const lazy = diagnoseAll(views, { finTimeoutMs: 60_000 });
    const flagged = views.filter((v) => v.flag);
    expect(flagged.map((v) => v.row.state)).toEqual(expect.arrayContaining(['SYN_SENT', 'SYN_SENT', 'CLOSE_WAIT', 'FIN_WAIT_2']));
    expect(flagged.length).toBeLessThan(views.length);
    for (const view of views) {
      const key = view.connection.key;
      expect(lazy.byConnection.get(key)).toEqual(all.byConnection.get(key));
      expect(lazy.byConnection.get(key) === undefined).toBe(view.flag === undefined);
    }
    expect(lazy.groups).toEqual(all.groups);
    expect(lazy.groups.length).toBeGreaterThan(0);
    // Made when asked for, not kept: each asking makes its own.
    const key = flagged[0]!.connection.key;
    expect(lazy.byConnection.get(key)).not.toBe(lazy.byConnection.get(key));
  });
});
