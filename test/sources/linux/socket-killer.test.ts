import { beforeEach, describe, expect, it } from 'vitest';
import type { SocketRow } from '../../../src/core/connection.js';
import { TcpState } from '../../../src/core/tcp-state.js';
import { SourceUnavailableError } from '../../../src/sources/source.js';
import { SOCK_DESTROY, SOCK_DIAG_BY_FAMILY } from '../../../src/sources/linux/parse-sock-diag.js';
import { SocketKiller } from '../../../src/sources/linux/socket-killer.js';
import { SockDiagStepError, type SockDiagExchanger } from '../../../src/sources/linux/sock-diag-dump.js';
import { FakePlatform } from '../../fake-platform.js';
import { readFixture, readFixtureBytes } from '../../fixture.js';

// Which way reset ends a socket, and what it reports, with the kernel's answers played back: the
// captured ones of scripts/capture-sock-destroy.ts (their sequence set to the request's), or acks
// written for the test in the same shape (nlmsghdr type NLMSG_ERROR, the request's sequence, int error).
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
let opened: number;
let closed: number;

const withSequence = (bytes: Uint8Array, sequence: number) => {
  const copy = Uint8Array.from(bytes); // a copy with its own ArrayBuffer (a Buffer's slice shares its pool)
  const view = new DataView(copy.buffer);
  // Every message of the answer carries the request's sequence.
  for (let at = 0; at < copy.length; at += (view.getUint32(at, LE) + 3) & ~3) view.setUint32(at + 8, sequence, LE);
  return copy;
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
  async exchange(request) {
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
  answers = [];
  opened = 0;
  closed = 0;
});

describe('reset through SOCK_DESTROY with the observed cookie', () => {
  it('ends the socket with its cookie, and never runs ss', async () => {
    answers = [() => withSequence(readFixtureBytes('linux-sock-destroy-ack-ended-kernel6.bin'), 0)];
    const k = killer();
    expect(await k.kill(row(facts.a))).toEqual({ ended: true, via: 'SOCK_DESTROY' });
    expect(sent).toEqual([{ type: SOCK_DESTROY, sequence: 1, cookie: [0x102f38, 0] }]);
    expect(platform.ran).toEqual([]);
    k.close();
    expect(closed).toBe(1);
  });

  it('reports a 4-tuple reused by a newer socket, leaves that socket alone and never retries with ss -K', async () => {
    answers = [() => readFixtureBytes('linux-sock-destroy-ack-stale-cookie-kernel6.bin'), () => readFixtureBytes('linux-sock-diag-lookup-kernel6.bin')];
    const outcome = await killer().kill(row({ ...facts.b, cookie: facts.staleCookie }));
    expect(outcome).toEqual({
      ended: false,
      via: 'SOCK_DESTROY',
      reusedTuple: true,
      reason: `the socket seen (cookie ${facts.staleCookie}) is gone and a newer one (cookie ${facts.b.cookie}, CLOSE_WAIT) holds its 4-tuple now: left alone`,
    });
    // The lookup asks for whatever holds the 4-tuple (INET_DIAG_NOCOOKIE).
    expect(sent.map((s) => [s.type, s.cookie])).toEqual([
      [SOCK_DESTROY, [0x202f3d, 0]],
      [SOCK_DIAG_BY_FAMILY, [0xffffffff, 0xffffffff]],
    ]);
    expect(platform.ran).toEqual([]);
  });

  it('counts a socket gone before its turn as ended (was gone already), without ss -K', async () => {
    answers = [() => readFixtureBytes('linux-sock-destroy-ack-gone-kernel6.bin'), () => ack(-2)];
    expect(await killer().kill(row(facts.a))).toEqual({ ended: true, alreadyGone: true, via: 'SOCK_DESTROY' });
    expect(platform.ran).toEqual([]);
  });

  it('takes a listener answering the lookup for no holder of the 4-tuple', async () => {
    // The kernel's lookup falls back to the port's listener; written for the test from the captured lookup, state byte set to LISTEN (10).
    const listener = Uint8Array.from(readFixtureBytes('linux-sock-diag-lookup-kernel6.bin'));
    listener[17] = 10;
    answers = [() => ack(-2), () => listener];
    expect(await killer().kill(row(facts.a))).toEqual({ ended: true, alreadyGone: true, via: 'SOCK_DESTROY' });
  });

  it('handles ESTALE as ENOENT (sock_diag_check_cookie’s own answer, should a kernel pass it on)', async () => {
    answers = [() => ack(-116), () => readFixtureBytes('linux-sock-diag-lookup-kernel6.bin')];
    expect(await killer().kill(row({ ...facts.b, cookie: facts.staleCookie }))).toMatchObject({ ended: false, reusedTuple: true });
    expect(platform.ran).toEqual([]);
  });

  it('says a refusal for lack of CAP_NET_ADMIN, and does not try ss -K', async () => {
    answers = [() => ack(-1)];
    expect(await killer().kill(row(facts.a))).toEqual({ ended: false, via: 'SOCK_DESTROY', reason: "permission denied: ending sockets needs CAP_NET_ADMIN in the socket's network namespace" });
    expect(platform.ran).toEqual([]);
  });

  it('does not retry with ss -K when the answer was lost: the socket may be ended already', async () => {
    answers = [() => new SockDiagStepError('netlink: recv failed: no answer within the timeout', 'recv')];
    const outcome = await killer().kill(row(facts.a));
    expect(outcome).toEqual({ ended: false, via: 'SOCK_DESTROY', reason: 'no answer from the kernel to SOCK_DESTROY (netlink: recv failed: no answer within the timeout); not retried with ss -K' });
    expect(platform.ran).toEqual([]);
  });

  it('reports an unreadable answer instead of guessing', async () => {
    answers = [() => ack(0).subarray(0, 12)];
    expect(await killer().kill(row(facts.a))).toEqual({ ended: false, via: 'SOCK_DESTROY', reason: 'unreadable answer to SOCK_DESTROY: truncated netlink header: 12 bytes, 16 expected' });
  });

  it('opens one channel for many sockets', async () => {
    answers = [() => ack(0), () => ack(0)];
    const k = killer();
    await k.kill(row(facts.a));
    await k.kill(row(facts.b));
    expect(opened).toBe(1);
    expect(sent.map((s) => s.sequence)).toEqual([1, 2]);
  });
});

describe('ss -K stays the fallback', () => {
  const ssKill = ['ss', '-K', '-t', '-n', '-4', 'state', 'close-wait', 'src', `127.0.0.1:${facts.a.local.port}`, 'dst', `127.0.0.1:${facts.a.remote.port}`];

  it('for a row without a cookie (ss, procfs sources): no channel is opened', async () => {
    expect(await killer().kill(row({ ...facts.a, cookie: undefined }))).toEqual({ ended: true, via: 'ss -K' });
    expect(platform.ran).toEqual([ssKill]);
    expect(opened).toBe(0);
  });

  it('when the kernel has no SOCK_DESTROY for TCP (EOPNOTSUPP), for this socket and the next ones', async () => {
    answers = [() => ack(-95)];
    const k = killer();
    expect(await k.kill(row(facts.a))).toEqual({ ended: true, via: 'ss -K' });
    expect(await k.kill(row(facts.a))).toEqual({ ended: true, via: 'ss -K' });
    expect(sent).toHaveLength(1);
    expect(platform.ran).toEqual([ssKill, ssKill]);
  });

  it('when koffi cannot load, or the request could not be sent', async () => {
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

  it('for a row of another network namespace (ss -K runs inside it)', async () => {
    platform.links.set('/run/netns/web', 'net:[4026532177]');
    expect(await killer().kill(row(facts.a, { netns: { inode: 4026532177, path: '/run/netns/web' } }))).toEqual({ ended: true, via: 'ss -K' });
    expect(opened).toBe(0);
    expect(platform.ran).toEqual([['nsenter', '--net=/run/netns/web', '--', ...ssKill]]);
  });

  it('never for a refused row: nothing is tried', async () => {
    expect(await killer().kill(row(facts.a, { state: TcpState.LISTEN }))).toEqual({ ended: false, reason: 'a listening socket is never reset' });
    expect([opened, platform.ran.length]).toEqual([0, 0]);
  });
});
