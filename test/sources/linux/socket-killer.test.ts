import { beforeEach, describe, expect, it } from 'vitest';
import type { SocketRow } from '../../../src/core/connection.js';
import { TcpState } from '../../../src/core/tcp-state.js';
import { SourceUnavailableError } from '../../../src/sources/source.js';
import { SOCK_DESTROY, SOCK_DIAG_BY_FAMILY } from '../../../src/sources/linux/parse-sock-diag.js';
import { SocketKiller } from '../../../src/sources/linux/socket-killer.js';
import { NetnsEntryError, SockDiagStepError, type NetnsTarget, type SockDiagExchanger } from '../../../src/sources/linux/sock-diag-dump.js';
import { FakePlatform } from '../../fake-platform.js';
import { readFixture, readFixtureBytes } from '../../fixture.js';

// Which way reset ends a socket, and what it reports, with the kernel's answers played back: the
// captured ones of scripts/capture-sock-destroy.ts (their sequence set to the request's), or acks
// written for the test in the same shape (nlmsghdr type NLMSG_ERROR, the request's sequence, int error).
// Every SOCK_DESTROY is preceded by an exact lookup with the cookie (SOCK_DIAG_BY_FAMILY) that
// reads the socket's state now; its answers are the captured lookup of B (an inet_diag_msg, then the
// acknowledgement) or, for A or another state, that capture with the 4-tuple, cookie or state byte
// rewritten for the test (lookupOf).
const LE = true;
const facts = JSON.parse(readFixture('linux-sock-destroy-kernel6.json')) as {
  a: Pick<SocketRow, 'local' | 'remote' | 'cookie'>;
  b: Pick<SocketRow, 'local' | 'remote' | 'cookie'>;
  staleCookie: string;
};
const SS_HEADER = 'State Recv-Q Send-Q Local Address:Port Peer Address:Port';

type Answer = Uint8Array | Error;
let platform: FakePlatform;
let sent: { type: number; sequence: number; cookie: [number, number] }[];
let answers: ((type: number) => Answer)[];
/** The namespace each request was sent in (undefined: this process's own). */
let sentIn: (NetnsTarget | undefined)[];
let opened: number;
let closed: number;

const withSequence = (bytes: Uint8Array, sequence: number) => {
  const copy = Uint8Array.from(bytes); // a copy with its own ArrayBuffer (a Buffer's slice shares its pool)
  const view = new DataView(copy.buffer);
  // Every message of the answer carries the request's sequence.
  for (let at = 0; at < copy.length; at += (view.getUint32(at, LE) + 3) & ~3) view.setUint32(at + 8, sequence, LE);
  return copy;
};
/** Kernel tcp_state numbers (include/net/tcp_states.h), as the inet_diag_msg's idiag_state byte carries them. */
const KERNEL_STATE: Partial<Record<TcpState, number>> = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  FIN_WAIT_1: 4,
  FIN_WAIT_2: 5,
  TIME_WAIT: 6,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
};
/**
 * The answer to an exact lookup of `named` in `state`: the captured lookup of B (CLOSE_WAIT, an
 * inet_diag_msg then the acknowledgement), written for the test with the ports (idiag_sport/dport,
 * network order, at 20 and 22), the cookie (idiag_cookie, host order, at 60 and 64) and the state
 * byte (17) set. Both A and B are 127.0.0.1 to 127.0.0.1, so the addresses stay.
 */
const lookupOf = (named: Pick<SocketRow, 'local' | 'remote' | 'cookie'>, state: TcpState = TcpState.CLOSE_WAIT) => {
  const bytes = Uint8Array.from(readFixtureBytes('linux-sock-diag-lookup-kernel6.bin'));
  const view = new DataView(bytes.buffer);
  view.setUint16(20, named.local.port, false);
  view.setUint16(22, named.remote.port, false);
  const cookie = BigInt(`0x${named.cookie}`);
  view.setUint32(60, Number(cookie & 0xffffffffn), LE);
  view.setUint32(64, Number(cookie >> 32n), LE);
  bytes[17] = KERNEL_STATE[state]!;
  return bytes;
};
const ack = (error: number) => {
  const bytes = new Uint8Array(36);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 36, LE);
  view.setUint16(4, 2, LE);
  view.setInt32(16, error, LE);
  return bytes;
};

const channel: SockDiagExchanger = {
  async exchange(request, netns) {
    sentIn.push(netns);
    const view = new DataView(request.buffer, request.byteOffset);
    const type = view.getUint16(4, LE);
    const sequence = view.getUint32(8, LE);
    sent.push({ type, sequence, cookie: [view.getUint32(64, LE), view.getUint32(68, LE)] });
    const answer = (answers.shift() ?? (() => new Error('no answer scripted')))(type);
    if (answer instanceof Error) throw answer;
    return [withSequence(answer, sequence)];
  },
  close: () => void closed++,
};

const killer = () =>
  new SocketKiller(platform, {
    openChannel: () => {
      opened++;
      return channel;
    },
  });
const row = (named: Pick<SocketRow, 'local' | 'remote' | 'cookie'>, more: Partial<SocketRow> = {}): SocketRow => ({
  protocol: 'tcp',
  state: TcpState.CLOSE_WAIT,
  rawState: 'CLOSE-WAIT',
  ...named,
  ...more,
});

beforeEach(() => {
  platform = new FakePlatform();
  // ss -K, where it runs, ends the one socket its filter names.
  platform.commands = [(argv) => ({ stdout: `${SS_HEADER}\nCLOSE-WAIT 0 0 ${argv[argv.indexOf('src') + 1]} ${argv[argv.indexOf('dst') + 1]}\n`, stderr: '', exitCode: 0 })];
  sent = [];
  sentIn = [];
  answers = [];
  opened = 0;
  closed = 0;
});

describe('reset through SOCK_DESTROY with the observed cookie', () => {
  it('looks the socket up with its cookie, finds it in the state seen, ends it with its cookie, and never runs ss', async () => {
    answers = [() => lookupOf(facts.a), () => withSequence(readFixtureBytes('linux-sock-destroy-ack-ended-kernel6.bin'), 0)];
    const k = killer();
    expect(await k.kill(row(facts.a))).toEqual({ ended: true, via: 'SOCK_DESTROY' });
    expect(sent).toEqual([
      { type: SOCK_DIAG_BY_FAMILY, sequence: 1, cookie: [0x102f38, 0] },
      { type: SOCK_DESTROY, sequence: 2, cookie: [0x102f38, 0] },
    ]);
    expect(platform.ran).toEqual([]);
    k.close();
    expect(closed).toBe(1);
  });

  it('reports a 4-tuple reused by a newer socket, leaves that socket alone (no SOCK_DESTROY) and never retries with ss -K', async () => {
    // The lookup with the stale cookie is answered as the captured SOCK_DESTROY with it was: the same
    // exact find and cookie check (tcp_diag_find_one_icsk, sock_diag_check_cookie), NLMSG_ERROR ENOENT.
    answers = [() => readFixtureBytes('linux-sock-destroy-ack-stale-cookie-kernel6.bin'), () => readFixtureBytes('linux-sock-diag-lookup-kernel6.bin')];
    const outcome = await killer().kill(row({ ...facts.b, cookie: facts.staleCookie }));
    expect(outcome).toEqual({
      ended: false,
      via: 'SOCK_DESTROY',
      reusedTuple: true,
      reason: `the socket seen (cookie ${facts.staleCookie}) is gone and a newer one (cookie ${facts.b.cookie}, CLOSE_WAIT) holds its 4-tuple now: left alone`,
    });
    // The first lookup names the socket seen (its cookie), the second whatever holds the 4-tuple (INET_DIAG_NOCOOKIE).
    expect(sent.map((s) => [s.type, s.cookie])).toEqual([
      [SOCK_DIAG_BY_FAMILY, [0x202f3d, 0]],
      [SOCK_DIAG_BY_FAMILY, [0xffffffff, 0xffffffff]],
    ]);
    expect(platform.ran).toEqual([]);
  });

  it('counts a socket gone before its turn as ended (was gone already), without SOCK_DESTROY or ss -K', async () => {
    // The lookup of a socket gone is answered as the captured SOCK_DESTROY of A once gone was (ENOENT).
    answers = [() => readFixtureBytes('linux-sock-destroy-ack-gone-kernel6.bin'), () => ack(-2)];
    expect(await killer().kill(row(facts.a))).toEqual({ ended: true, alreadyGone: true, via: 'SOCK_DESTROY' });
    expect(sent.map((s) => s.type)).toEqual([SOCK_DIAG_BY_FAMILY, SOCK_DIAG_BY_FAMILY]);
    expect(platform.ran).toEqual([]);
  });

  it('counts a socket gone between the lookup and SOCK_DESTROY as ended (was gone already)', async () => {
    answers = [() => lookupOf(facts.a), () => readFixtureBytes('linux-sock-destroy-ack-gone-kernel6.bin'), () => ack(-2)];
    expect(await killer().kill(row(facts.a))).toEqual({ ended: true, alreadyGone: true, via: 'SOCK_DESTROY' });
    expect(sent.map((s) => s.type)).toEqual([SOCK_DIAG_BY_FAMILY, SOCK_DESTROY, SOCK_DIAG_BY_FAMILY]);
    expect(platform.ran).toEqual([]);
  });

  it('takes a listener answering the lookup for no holder of the 4-tuple', async () => {
    // The kernel's lookup falls back to the port's listener; written for the test from the captured lookup, state byte set to LISTEN (10).
    const listener = Uint8Array.from(readFixtureBytes('linux-sock-diag-lookup-kernel6.bin'));
    listener[17] = 10;
    answers = [() => ack(-2), () => listener];
    expect(await killer().kill(row(facts.a))).toEqual({ ended: true, alreadyGone: true, via: 'SOCK_DESTROY' });
  });

  it('handles ESTALE as ENOENT (sock_diag_check_cookie’s own answer, should a kernel pass it on), to the lookup or to SOCK_DESTROY', async () => {
    answers = [() => ack(-116), () => readFixtureBytes('linux-sock-diag-lookup-kernel6.bin')];
    expect(await killer().kill(row({ ...facts.b, cookie: facts.staleCookie }))).toMatchObject({ ended: false, reusedTuple: true });
    answers = [() => lookupOf(facts.a), () => ack(-116), () => ack(-2)];
    expect(await killer().kill(row(facts.a))).toEqual({ ended: true, alreadyGone: true, via: 'SOCK_DESTROY' });
    expect(platform.ran).toEqual([]);
  });

  it('says a refusal for lack of CAP_NET_ADMIN, and does not try ss -K', async () => {
    answers = [() => lookupOf(facts.a), () => ack(-1)];
    expect(await killer().kill(row(facts.a))).toEqual({ ended: false, via: 'SOCK_DESTROY', reason: "permission denied: ending sockets needs CAP_NET_ADMIN in the socket's network namespace" });
    expect(platform.ran).toEqual([]);
  });

  it('does not retry with ss -K when the answer was lost: the socket may be ended already', async () => {
    answers = [() => lookupOf(facts.a), () => new SockDiagStepError('netlink: recv failed: no answer within the timeout', 'recv')];
    const outcome = await killer().kill(row(facts.a));
    expect(outcome).toEqual({ ended: false, via: 'SOCK_DESTROY', reason: 'no answer from the kernel to SOCK_DESTROY (netlink: recv failed: no answer within the timeout); not retried with ss -K' });
    expect(platform.ran).toEqual([]);
  });

  it('reports an unreadable answer instead of guessing', async () => {
    answers = [() => lookupOf(facts.a), () => ack(0).subarray(0, 12)];
    expect(await killer().kill(row(facts.a))).toEqual({ ended: false, via: 'SOCK_DESTROY', reason: 'unreadable answer to SOCK_DESTROY: truncated netlink header: 12 bytes, 16 expected' });
  });

  it('opens one channel for many sockets', async () => {
    answers = [() => lookupOf(facts.a), () => ack(0), () => readFixtureBytes('linux-sock-diag-lookup-kernel6.bin'), () => ack(0)];
    const k = killer();
    expect(await k.kill(row(facts.a))).toEqual({ ended: true, via: 'SOCK_DESTROY' });
    expect(await k.kill(row(facts.b))).toEqual({ ended: true, via: 'SOCK_DESTROY' });
    expect(opened).toBe(1);
    expect(sent.map((s) => s.sequence)).toEqual([1, 2, 3, 4]);
  });
});

describe('SOCK_DESTROY ends only a socket still in the state seen (as ss -K’s state filter did)', () => {
  it.each([
    [TcpState.SYN_SENT, TcpState.ESTABLISHED, 'a connect that succeeded since the poll: a healthy connection'],
    [TcpState.CLOSE_WAIT, TcpState.LAST_ACK, 'its owner closed it since the poll'],
    [TcpState.FIN_WAIT_1, TcpState.FIN_WAIT_2, 'the peer acknowledged our FIN since the poll'],
    [TcpState.FIN_WAIT_1, TcpState.TIME_WAIT, 'the close completed since the poll (the TIME_WAIT keeps the cookie)'],
  ])('%s seen, %s now (%s): left alone, no SOCK_DESTROY, no ss -K', async (seen, now, _why) => {
    answers = [() => lookupOf(facts.a, now)];
    const outcome = await killer().kill(row(facts.a, { state: seen, rawState: seen }));
    expect(outcome).toEqual({ ended: false, via: 'SOCK_DESTROY', stateNow: now, reason: `its state moved on since the poll (${seen} then, ${now} now): left alone` });
    expect(sent.map((s) => [s.type, s.cookie])).toEqual([[SOCK_DIAG_BY_FAMILY, [0x102f38, 0]]]);
    expect(platform.ran).toEqual([]);
  });

  it('ends a SYN_SENT still in SYN_SENT', async () => {
    answers = [() => lookupOf(facts.a, TcpState.SYN_SENT), () => ack(0)];
    expect(await killer().kill(row(facts.a, { state: TcpState.SYN_SENT, rawState: 'SYN-SENT' }))).toEqual({ ended: true, via: 'SOCK_DESTROY' });
    expect(sent.map((s) => s.type)).toEqual([SOCK_DIAG_BY_FAMILY, SOCK_DESTROY]);
  });

  it('leaves one socket alone and goes on with the next', async () => {
    answers = [() => lookupOf(facts.a, TcpState.LAST_ACK), () => readFixtureBytes('linux-sock-diag-lookup-kernel6.bin'), () => ack(0)];
    const k = killer();
    expect(await k.kill(row(facts.a))).toMatchObject({ ended: false, stateNow: TcpState.LAST_ACK });
    expect(await k.kill(row(facts.b))).toEqual({ ended: true, via: 'SOCK_DESTROY' });
    expect(sent.map((s) => s.type)).toEqual([SOCK_DIAG_BY_FAMILY, SOCK_DIAG_BY_FAMILY, SOCK_DESTROY]);
  });
});

describe('a lookup that does not say the state now ends nothing (fail closed)', () => {
  const unknown = (why: string) => ({ ended: false, via: 'SOCK_DESTROY', reason: `${why}: its state is unknown, so it was left alone` });
  const noAck = () => {
    // The captured lookup's inet_diag_msg without the acknowledgement that follows it (written for the test).
    const whole = lookupOf(facts.a);
    return whole.subarray(0, new DataView(whole.buffer).getUint32(0, LE));
  };
  const ackAlone = () => ack(0); // an acknowledgement with no inet_diag_msg before it (written for the test)

  it.each([
    [
      'the answer is lost',
      () => new SockDiagStepError('netlink: recv failed: no answer within the timeout', 'recv'),
      'no answer from the kernel to the lookup of its state now (netlink: recv failed: no answer within the timeout)',
    ],
    ['the kernel refuses it', () => ack(-12), 'the kernel refused the lookup of its state now (ENOMEM)'],
    ['the answer has no acknowledgement', noAck, 'unreadable answer to the lookup of its state now (no acknowledgement of request 1)'],
    ['the answer is truncated', () => ack(0).subarray(0, 12), 'unreadable answer to the lookup of its state now (truncated netlink header: 12 bytes, 16 expected)'],
    ['the acknowledgement comes with no socket', ackAlone, 'unreadable answer to the lookup of its state now (0 sockets in the answer, 1 expected)'],
    ['it answers with another socket', () => lookupOf(facts.b), `the lookup answered another socket (cookie ${facts.b.cookie}, not ${facts.a.cookie})`],
  ])('when %s: not ended, no SOCK_DESTROY, no ss -K', async (_case, answer, why) => {
    answers = [answer];
    expect(await killer().kill(row(facts.a))).toEqual(unknown(why));
    expect(sent.map((s) => s.type)).toEqual([SOCK_DIAG_BY_FAMILY]);
    expect(platform.ran).toEqual([]);
  });

  it('a lookup whose reply cannot be read as a socket (an inet_diag_msg cut short) ends nothing', async () => {
    // Written for the test: the captured lookup's first message with its length cut to 40 bytes (a truncated inet_diag_msg), then the acknowledgement.
    const whole = lookupOf(facts.a);
    const view = new DataView(whole.buffer);
    const first = view.getUint32(0, LE);
    const cut = Uint8Array.from([...whole.subarray(0, 40), ...whole.subarray(first)]);
    new DataView(cut.buffer).setUint32(0, 40, LE);
    answers = [() => cut];
    const outcome = await killer().kill(row(facts.a));
    expect(outcome).toMatchObject({
      ended: false,
      via: 'SOCK_DESTROY',
      reason: expect.stringMatching(/^unreadable answer to the lookup of its state now \(truncated inet_diag_msg: 24 bytes, \d+ expected\): its state is unknown/),
    });
    expect(sent.map((s) => s.type)).toEqual([SOCK_DIAG_BY_FAMILY]);
  });
});

describe('ss -K stays the fallback', () => {
  const ssKill = ['ss', '-K', '-t', '-n', '-4', 'state', 'close-wait', 'src', `127.0.0.1:${facts.a.local.port}`, 'dst', `127.0.0.1:${facts.a.remote.port}`];

  it('for a row without a cookie (ss, procfs sources): no channel is opened', async () => {
    expect(await killer().kill(row({ ...facts.a, cookie: undefined }))).toEqual({ ended: true, via: 'ss -K' });
    expect(platform.ran).toEqual([ssKill]);
    expect(opened).toBe(0);
  });

  it('when the kernel has no SOCK_DESTROY for TCP (EOPNOTSUPP), for this socket (still in the state seen) and the next ones', async () => {
    answers = [() => lookupOf(facts.a), () => ack(-95)];
    const k = killer();
    expect(await k.kill(row(facts.a))).toEqual({ ended: true, via: 'ss -K' });
    expect(await k.kill(row(facts.a))).toEqual({ ended: true, via: 'ss -K' });
    expect(sent.map((s) => s.type)).toEqual([SOCK_DIAG_BY_FAMILY, SOCK_DESTROY]);
    expect(platform.ran).toEqual([ssKill, ssKill]);
  });

  it('when koffi cannot load, or the lookup could not be sent (nothing reached the kernel; ss -K filters on the state seen)', async () => {
    const missing = new SocketKiller(platform, {
      openChannel: () => {
        throw new SourceUnavailableError('netlink: the koffi library is not installed (an optional dependency)');
      },
    });
    expect(await missing.kill(row(facts.a))).toEqual({ ended: true, via: 'ss -K' });
    answers = [() => new SockDiagStepError('netlink: send failed: errno 105', 'send')];
    expect(await killer().kill(row(facts.a))).toEqual({ ended: true, via: 'ss -K' });
    expect(platform.ran).toEqual([ssKill, ssKill]);
  });

  it('for a row of another network namespace without a cookie (ss -K runs inside it)', async () => {
    platform.links.set('/run/netns/web', 'net:[4026532177]');
    expect(await killer().kill(row({ ...facts.a, cookie: undefined }, { netns: { inode: 4026532177, path: '/run/netns/web' } }))).toEqual({ ended: true, via: 'ss -K' });
    expect(opened).toBe(0);
    expect(platform.ran).toEqual([['nsenter', '--net=/run/netns/web', '--', ...ssKill]]);
  });

  it('for a row whose namespace cannot be entered now (gone): ss -K says why, and SOCK_DESTROY stays for the next rows', async () => {
    // The file no longer opens the namespace (the worker found it gone; its link is gone too).
    answers = [() => new NetnsEntryError('netlink: cannot open /run/netns/web (ENOENT): the network namespace is gone', 'ENOENT', true), () => lookupOf(facts.b), () => ack(0)];
    const k = killer();
    expect(await k.kill(row(facts.a, { netns: { inode: 4026532177, path: '/run/netns/web' } }))).toEqual({
      ended: false,
      reason: 'its network namespace net:[4026532177] can no longer be opened (gone, or its process exited)',
    });
    expect(platform.ran).toEqual([]);
    // One namespace gone says nothing of the others: the next row is still ended with its cookie.
    expect(await k.kill(row(facts.b))).toEqual({ ended: true, via: 'SOCK_DESTROY' });
    expect(sentIn).toEqual([{ path: '/run/netns/web', inode: 4026532177 }, undefined, undefined]);
  });
});

describe('SOCK_DESTROY in another network namespace (--netns rows)', () => {
  it('the lookup, SOCK_DESTROY and the lookup after ENOENT are each sent in the row namespace (its file and inode); ss is never run', async () => {
    const web = { inode: 4026532177, path: '/run/netns/web' };
    answers = [() => lookupOf(facts.a), () => ack(0)];
    expect(await killer().kill(row(facts.a, { netns: web }))).toEqual({ ended: true, via: 'SOCK_DESTROY' });
    // Gone before its turn: the lookup with the cookie finds nothing, the one without names no holder.
    answers = [() => ack(-2), () => ack(0)];
    expect(await killer().kill(row(facts.b, { netns: web }))).toEqual({ ended: true, alreadyGone: true, via: 'SOCK_DESTROY' });
    expect(sent.map((m) => m.type)).toEqual([SOCK_DIAG_BY_FAMILY, SOCK_DESTROY, SOCK_DIAG_BY_FAMILY, SOCK_DIAG_BY_FAMILY]);
    expect(sentIn).toEqual([web, web, web, web]);
    expect(platform.ran).toEqual([]);
  });

  it('never for a refused row: nothing is tried', async () => {
    expect(await killer().kill(row(facts.a, { state: TcpState.LISTEN }))).toEqual({ ended: false, reason: 'a listening socket is never reset' });
    expect([opened, platform.ran.length]).toEqual([0, 0]);
  });

  it('never for a row in a state ss -K cannot name, nor CLOSED: nothing is tried', async () => {
    for (const state of [TcpState.CLOSED, TcpState.DELETE_TCB, TcpState.BOUND, TcpState.UNKNOWN]) {
      expect(await killer().kill(row(facts.a, { state }))).toEqual({ ended: false, reason: `${state} sockets cannot be reset` });
    }
    expect([opened, platform.ran.length]).toEqual([0, 0]);
  });
});
