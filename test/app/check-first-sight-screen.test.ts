import { describe, expect, it } from 'vitest';
import { parseCidr } from '../../src/core/address.js';
import { defaultPolicy, type PartialThresholds, type Policy, type SessionRule } from '../../src/core/policy.js';
import { TcpState } from '../../src/core/tcp-state.js';
import { AF_INET, AF_INET6 } from '../../src/sources/linux/parse-sock-diag.js';
import { check, expectSame, type Host } from '../first-sight-check.js';
import { readFixtureBytes } from '../fixture.js';

// The first-sight screen (issue 15, one-shot check): the same check run with the screen (sockets
// no rule can flag counted per state, not made rows) and without it (every socket a row) must give
// the same report in every format: text (news and --all), JSON, Nagios. Inputs: the real captured
// sock_diag dumps, and generated tables (both families, mapped addresses, every state, repeated
// flows, peers with many SYN_SENT or TIME_WAIT) under random policies and host facts.

const SECOND = 1000;
const thresholds = (idleMs: number, halfOpenMs: number, halfCloseMs: number) => ({ idleMs, halfOpenMs, halfCloseMs, perStateMs: {} });

describe('check with the first-sight screen: the same report as with every row (real captured sock_diag dumps)', () => {
  const host: Host = {
    inet: [readFixtureBytes('linux-sock-diag-inet-park-sockets-kernel6.bin')],
    inet6: [readFixtureBytes('linux-sock-diag-inet6-park-sockets-kernel6.bin')],
    portRange: '32768\t60999\n',
  };
  const policies: [string, Policy][] = [
    ['the default (ios)', defaultPolicy()],
    ['conntrack preset', defaultPolicy('conntrack')],
    ['asa with a critical idle', { ...defaultPolicy('asa'), critical: { idleMs: 2 * 3600 * SECOND } }],
    ['everything flagged at once (thresholds 0)', { warning: thresholds(0, 0, 0), critical: {}, rules: [], counts: [] }],
    ['idle at 2 s, half-close off', { warning: thresholds(2 * SECOND, 30 * SECOND, Infinity), critical: {}, rules: [], counts: [] }],
  ];
  for (const [name, policy] of policies) {
    it(name, async () => {
      await expectSame(host, policy, name);
    });
  }

  it('leaves out the idle-free sessions of the capture under the default policy (the screen is not idle)', async () => {
    const { leftOut } = await expectSame(host, defaultPolicy(), 'default');
    expect(leftOut).toBeGreaterThan(0);
  });

  it('with --reset of half-close sessions (dry runs fail closed without kernel sockets, alike)', async () => {
    const full = await check(host, defaultPolicy(), false, ['half-close']);
    const screened = await check(host, defaultPolicy(), true, ['half-close']);
    expect(screened.json).toBe(full.json);
    expect(screened.text).toEqual(full.text);
  });
});

// ---- generated tables ----

/** mulberry32: a small seeded generator, so a failure names its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Message {
  family: number;
  state: number;
  timer: number;
  retrans: number;
  sport: number;
  dport: number;
  src: number[];
  dst: number[];
  expires: number;
  rqueue: number;
  wqueue: number;
  inode: number;
  cookie: number;
  /** tcp_info, or none (TIME_WAIT and request sockets have none). */
  info?: { backoff: number; rtoUs: number; lastSent: number; lastRecv: number; lastAck: number; rttUs: number };
}

function encode(m: Message): Uint8Array {
  const infoBytes = m.info ? 4 + 232 : 0;
  const length = 16 + 72 + infoBytes;
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, length, true);
  view.setUint16(4, 20, true);
  view.setUint16(6, 2, true);
  const at = 16;
  bytes[at] = m.family;
  bytes[at + 1] = m.state;
  bytes[at + 2] = m.timer;
  bytes[at + 3] = m.retrans;
  view.setUint16(at + 4, m.sport, false);
  view.setUint16(at + 6, m.dport, false);
  bytes.set(m.src, at + 8);
  bytes.set(m.dst, at + 24);
  view.setUint32(at + 44, m.cookie, true);
  view.setUint32(at + 52, m.expires, true);
  view.setUint32(at + 56, m.rqueue, true);
  view.setUint32(at + 60, m.wqueue, true);
  view.setUint32(at + 64, 1000, true);
  view.setUint32(at + 68, m.inode, true);
  if (m.info) {
    const info = at + 72;
    view.setUint16(info, 4 + 232, true);
    view.setUint16(info + 2, 2, true);
    const ti = info + 4;
    bytes[ti + 4] = m.info.backoff;
    view.setUint32(ti + 8, m.info.rtoUs, true);
    view.setUint32(ti + 44, m.info.lastSent, true);
    view.setUint32(ti + 52, m.info.lastRecv, true);
    view.setUint32(ti + 56, m.info.lastAck, true);
    view.setUint32(ti + 68, m.info.rttUs, true);
  }
  return bytes;
}

const DONE = (() => {
  const bytes = new Uint8Array(20);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 20, true);
  view.setUint16(4, 3, true);
  view.setUint16(6, 2, true);
  return bytes;
})();

/** Messages into datagrams of a few messages each, DONE last. */
function datagrams(messages: Uint8Array[], next: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let part: Uint8Array[] = [];
  const flush = () => {
    const total = part.reduce((n, p) => n + p.length, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const p of part) {
      bytes.set(p, at);
      at += p.length;
    }
    out.push(bytes);
    part = [];
  };
  for (const m of messages) {
    part.push(m);
    if (next() < 0.2) flush();
  }
  part.push(DONE);
  flush();
  return out;
}

// Kernel state numbers (include/net/tcp_states.h); 13+ are unknown to tcpdwell.
const KERNEL_STATES = [1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 6, 6, 7, 8, 8, 9, 10, 11, 12, 14];

function generatedHost(seed: number): Host {
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const int = (n: number) => Math.floor(next() * n);
  const v4 = [
    [127, 0, 0, 1],
    [127, 0, 0, 2],
    [10, 0, 0, 7],
    [192, 168, 1, int(3)],
  ];
  const v6 = [
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1], // mapped: shown as 127.0.0.1
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 7],
  ];
  const count = 20 + int(220);
  // A few tables list a flow twice (then every row is made).
  const repeats = next() < 0.15;
  const spread = pick([500, 3000, 60_000, 4 * 3600_000]);
  const inet: Uint8Array[] = [];
  const inet6: Uint8Array[] = [];
  const made: Message[] = [];
  for (let i = 0; i < count; i++) {
    const family = next() < 0.7 ? AF_INET : AF_INET6;
    const state = pick(KERNEL_STATES);
    const addresses = family === AF_INET ? v4 : v6;
    const ago = () => int(spread);
    const fullSocket = state !== 6 && state !== 12 && state !== 3;
    const m: Message = {
      family,
      state,
      timer: state === 6 ? 3 : state === 12 || state === 3 ? 1 : pick([0, 0, 1, 2, 4]),
      retrans: int(4),
      // Unique local ports but for listeners (two listeners on one endpoint, as SO_REUSEPORT gives, are a repeated flow).
      sport: state === 10 && repeats ? pick([80, 443, 5432]) : 20000 + i,
      dport: state === 10 ? 0 : pick([80, 443, 5432, 40000 + int(40)]),
      src: [...pick(addresses)],
      dst: state === 10 ? new Array<number>(family === AF_INET ? 4 : 16).fill(0) : [...pick(addresses)],
      expires: int(60_000),
      rqueue: int(3) === 0 ? int(100) : 0,
      wqueue: pick([0, 0, 1, 7]),
      inode: fullSocket ? 5000 + i : 0,
      cookie: 1 + i,
    };
    if (fullSocket) {
      // Some stamps past the uptime (never set: not believable), some close to the thresholds.
      m.info = { backoff: int(3), rtoUs: pick([200_000, 400_000, 1_600_000, 203_333]), lastSent: next() < 0.05 ? 4294938568 : ago(), lastRecv: ago(), lastAck: ago(), rttUs: pick([0, 35, 1200]) };
    }
    // A flow listed twice now and then (a dump is not atomic): the same 4-tuple again.
    const repeat = repeats && made.length > 0 && next() < 0.01 ? { ...pick(made.filter((o) => o.family === family).concat(m)), state } : m;
    made.push(repeat);
    (family === AF_INET ? inet : inet6).push(encode(repeat));
  }
  // A peer with many SYN_SENT (a group finding), and connections to it in other states.
  if (next() < 0.5) {
    for (let i = 0; i < 3 + int(4); i++)
      inet.push(
        encode({
          ...made[0]!,
          family: AF_INET,
          state: 2,
          sport: 41000 + i,
          dport: 9999,
          src: [127, 0, 0, 1],
          dst: [127, 0, 0, 9],
          info: { backoff: 1, rtoUs: 2_000_000, lastSent: 0, lastRecv: 0, lastAck: 0, rttUs: 0 },
        }),
      );
    for (let i = 0; i < 4; i++) inet.push(encode({ ...made[0]!, family: AF_INET, state: pick([1, 6, 5]), timer: 0, sport: 42000 + i, dport: 9999, src: [127, 0, 0, 1], dst: [127, 0, 0, 9] }));
  }
  // Many TIME_WAIT to one peer: a group finding where the ephemeral range is small.
  for (let i = 0; i < int(30); i++)
    inet.push(encode({ ...made[0]!, family: AF_INET, state: 6, timer: 3, info: undefined, inode: 0, sport: 43000 + i, dport: 8080, src: [127, 0, 0, 1], dst: [127, 0, 0, 8] }));
  for (let i = 0; i < int(6); i++) inet.push(encode({ ...made[0]!, family: AF_INET, state: 1, timer: 0, inode: 9000 + i, sport: 44000 + i, dport: 8080, src: [127, 0, 0, 1], dst: [127, 0, 0, 8] }));
  return {
    inet: datagrams(inet, next),
    inet6: datagrams(inet6, next),
    portRange: pick([undefined, '32768 60999\n', '40000 40019\n', '50000 50000\n']),
    uptimeSeconds: pick([undefined, 86_400, 10_000_000]),
  };
}

function generatedPolicy(seed: number): Policy {
  const next = random(seed * 7 + 1);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const ms = () => pick([0, 999, 1000, 1500, 30 * SECOND, 120 * SECOND, 3600 * SECOND, Infinity, Math.floor(next() * 4 * 3600 * SECOND)]);
  const partial = (): PartialThresholds => {
    const p: PartialThresholds = {};
    if (next() < 0.4) p.idleMs = ms();
    if (next() < 0.3) p.halfOpenMs = ms();
    if (next() < 0.4) p.halfCloseMs = ms();
    if (next() < 0.3) p.perStateMs = { [pick([TcpState.FIN_WAIT_2, TcpState.LAST_ACK, TcpState.ESTABLISHED, TcpState.FIN_WAIT_1])]: ms() };
    return p;
  };
  const rules: SessionRule[] = [];
  for (let i = 0; i < Math.floor(next() * 4); i++) {
    const match: SessionRule['match'] = {};
    if (next() < 0.5) match.localPorts = [{ from: pick([80, 443, 40000]), to: pick([80, 5432, 40040]) }];
    if (next() < 0.4) match.remoteAddresses = [parseCidr(pick(['127.0.0.0/8', '10.0.0.7', '2001:db8::/32', '::1']))!];
    if (next() < 0.3) match.states = [pick([TcpState.ESTABLISHED, TcpState.FIN_WAIT_2, TcpState.TIME_WAIT, TcpState.LAST_ACK])];
    rules.push({ name: `rule${i}`, match, warning: partial(), critical: partial() });
  }
  return {
    warning: { idleMs: ms(), halfOpenMs: ms(), halfCloseMs: ms(), perStateMs: next() < 0.3 ? { [TcpState.CLOSING]: ms() } : {} },
    critical: partial(),
    rules,
    counts: [],
  };
}

describe('check with the first-sight screen: the same report as with every row (generated tables, random policies)', () => {
  it('over 150 seeds', async () => {
    let leftOutRuns = 0;
    let flaggedRuns = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const { leftOut, full } = await expectSame(generatedHost(seed), generatedPolicy(seed), `seed ${seed}`);
      if (leftOut > 0) leftOutRuns++;
      if (full.status === 'warning' || full.status === 'critical') flaggedRuns++;
    }
    // Not vacuous: most runs left connections out, and most flagged something.
    expect(leftOutRuns).toBeGreaterThan(100);
    expect(flaggedRuns).toBeGreaterThan(75);
  });
});

// ---- large dumps: the kept bytes span several arenas (screened-dump.ts retain), and a datagram
// longer than a message handle's span (MESSAGE_HANDLE_SPAN) is kept whole ----

/** Messages into datagrams of at most `bytes` each (a message never split), DONE last. */
function datagramsOf(messages: Uint8Array[], bytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let part: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    const datagram = new Uint8Array(size);
    let at = 0;
    for (const p of part) {
      datagram.set(p, at);
      at += p.length;
    }
    out.push(datagram);
    part = [];
    size = 0;
  };
  for (const m of [...messages, DONE]) {
    if (size > 0 && size + m.length > bytes) flush();
    part.push(m);
    size += m.length;
  }
  flush();
  return out;
}

/**
 * 8,000 sockets (~2.6 MB of messages, more than two of the screen's 1 MiB arenas): fresh
 * ESTABLISHED (left out) with flagged CLOSE_WAIT among them, a peer with SYN_SENT near the start
 * and ESTABLISHED connections to it near the end (rows the screen makes from kept bytes after the
 * dump), and, with `repeat`, the first flow listed again last (every row made from kept bytes).
 */
function largeHost(datagramBytes: number, repeat: boolean): Host {
  const base: Message = { family: AF_INET, state: 1, timer: 0, retrans: 0, sport: 0, dport: 5432, src: [127, 0, 0, 1], dst: [127, 0, 0, 2], expires: 0, rqueue: 0, wqueue: 0, inode: 0, cookie: 0 };
  const info = { backoff: 0, rtoUs: 204_000, lastSent: 100, lastRecv: 100, lastAck: 100, rttUs: 35 };
  const messages: Message[] = [];
  for (let i = 0; i < 8000; i++) {
    const closeWait = i % 97 === 0;
    const toPeer = i >= 7990;
    // A CLOSE_WAIT's dwell: since the peer's FIN, its last segment received (10 min ago).
    const stamps = closeWait ? { ...info, lastRecv: 600_000, lastAck: 600_000, lastSent: 600_000 } : info;
    messages.push({
      ...base,
      state: closeWait ? 8 : 1,
      sport: 10_000 + i,
      dst: toPeer ? [127, 0, 0, 9] : base.dst,
      dport: toPeer ? 9999 : base.dport,
      inode: 100_000 + i,
      cookie: 1 + i,
      info: stamps,
    });
    if (i < 4)
      messages.push({ ...base, state: 2, timer: 1, sport: 30_000 + i, dst: [127, 0, 0, 9], dport: 9999, inode: 200_000 + i, cookie: 20_000 + i, info: { ...info, backoff: 6, rtoUs: 64_000_000 } });
  }
  if (repeat) messages.push({ ...messages[2]!, state: 1 }); // a fresh ESTABLISHED, left out the first time
  return { inet: datagramsOf(messages.map(encode), datagramBytes), inet6: [DONE], portRange: '32768 60999\n', uptimeSeconds: 86_400 };
}

describe('check with the first-sight screen: large dumps (kept bytes across arenas, a datagram past the handle span)', () => {
  for (const [name, datagramBytes] of [
    ['datagrams of 32 KiB, as the kernel sends', 32 * 1024],
    ['one datagram of 2.6 MB, longer than a handle spans', 1 << 23],
  ] as const) {
    for (const repeat of [false, true]) {
      it(`${name}${repeat ? ', a flow listed twice' : ''}`, async () => {
        const host = largeHost(datagramBytes, repeat);
        const { leftOut, full } = await expectSame(host, defaultPolicy(), name);
        // Not vacuous: CLOSE_WAIT flagged and the peer's connections listed; fresh sessions left
        // out where the screen may (a repeated flow or a datagram it cannot hand out makes every row).
        expect(full.status).not.toBe('ok');
        // The 10 ESTABLISHED to the peer, at the dump's end, counted in its group finding.
        expect(full.textAll).toContain('FINDING 127.0.0.9:9999: 4 of 14 connections to 127.0.0.9:9999 are half-open: upstream down or filtered');
        if (repeat || datagramBytes > 1 << 18) expect(leftOut).toBe(0);
        else expect(leftOut).toBeGreaterThan(7800);
      });
    }
  }
});
