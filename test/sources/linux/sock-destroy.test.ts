import { describe, expect, it } from 'vitest';
import {
  AF_INET,
  AF_INET6,
  NLM_F_ACK,
  NLM_F_REQUEST,
  SOCK_DESTROY,
  SOCK_DIAG_BY_FAMILY,
  cookieHalves,
  parseNetlinkAck,
  parseSockDiag,
  socketIdOf,
  sockDestroyRequest,
  sockDiagLookupRequest,
  type SockDiagSocketId,
} from '../../../src/sources/linux/parse-sock-diag.js';
import type { SocketRow } from '../../../src/core/connection.js';
import { TcpState } from '../../../src/core/tcp-state.js';
import { readFixture, readFixtureBytes } from '../../fixture.js';

// SOCK_DESTROY and the exact lookup: the request bytes, and the kernel's NLMSG_ERROR answers.
// Captured answers come from scripts/capture-sock-destroy.ts (Linux 6.18, x86-64: little-endian).
const LE = true;
const facts = JSON.parse(readFixture('linux-sock-destroy-kernel6.json')) as {
  a: Pick<SocketRow, 'local' | 'remote' | 'cookie'>;
  b: Pick<SocketRow, 'local' | 'remote' | 'cookie'>;
  staleCookie: string;
};
const tcpRow = (named: Pick<SocketRow, 'local' | 'remote' | 'cookie'>): SocketRow => ({ protocol: 'tcp', state: TcpState.CLOSE_WAIT, rawState: '08', ...named });
const idOf = (row: Parameters<typeof socketIdOf>[0]): SockDiagSocketId => {
  const id = socketIdOf(row);
  if (typeof id === 'string') throw new Error(id);
  return id;
};

describe('cookieHalves and socketIdOf', () => {
  it('splits ss -e’s sk: hex into the kernel’s cookie[0] (low) and cookie[1] (high)', () => {
    expect(cookieHalves('102f38')).toEqual([0x102f38, 0]);
    expect(cookieHalves('1ffffffff')).toEqual([0xffffffff, 1]);
    expect(cookieHalves('ABCDEF0123456789')).toEqual([0x23456789, 0xabcdef01]);
    for (const bad of ['', 'xyz', '12345678901234567', '-1', '0x12']) expect(cookieHalves(bad)).toBeUndefined();
  });

  it('names a row by family, endpoints, interface and cookie, or says why it cannot', () => {
    expect(idOf({ ...tcpRow(facts.a), boundInterface: 3 })).toEqual({ family: AF_INET, local: facts.a.local, remote: facts.a.remote, boundInterface: 3, cookie: [0x102f38, 0] });
    expect(idOf({ protocol: 'tcp6', local: { address: '::1', port: 1 }, remote: { address: '10.0.0.1', port: 2 } })).toMatchObject({ family: AF_INET6, boundInterface: 0 });
    expect(socketIdOf({ protocol: 'tcp', local: { address: '::1', port: 1 }, remote: { address: '127.0.0.1', port: 2 } })).toBe('::1 is not an IPv4 address');
    expect(socketIdOf({ protocol: 'tcp', local: { address: 'db.local', port: 1 }, remote: { address: '127.0.0.1', port: 2 } })).toBe('db.local is not an IP address');
    expect(socketIdOf({ ...tcpRow(facts.a), cookie: 'sk1' })).toBe('cookie sk1 is not hex');
  });
});

describe('sockDestroyRequest and sockDiagLookupRequest', () => {
  it('lays out nlmsghdr + inet_diag_req_v2 for one IPv4 socket (linux/netlink.h, linux/inet_diag.h)', () => {
    const bytes = sockDestroyRequest({ id: { ...idOf(tcpRow(facts.a)), boundInterface: 7 }, sequence: 9, littleEndian: LE });
    const view = new DataView(bytes.buffer);
    expect(bytes.length).toBe(72);
    expect([view.getUint32(0, LE), view.getUint16(4, LE), view.getUint16(6, LE), view.getUint32(8, LE), view.getUint32(12, LE)]).toEqual([72, SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, 9, 0]);
    expect([bytes[16], bytes[17], bytes[18], bytes[19]]).toEqual([AF_INET, 6, 0, 0]);
    // inet_diag_sockid from byte 24: ports and addresses in network order, if and cookie in host order.
    expect([view.getUint16(24, false), view.getUint16(26, false)]).toEqual([facts.a.local.port, facts.a.remote.port]);
    expect([...bytes.subarray(28, 44)]).toEqual([127, 0, 0, 1, ...new Array(12).fill(0)]);
    expect([...bytes.subarray(44, 60)]).toEqual([127, 0, 0, 1, ...new Array(12).fill(0)]);
    expect([view.getUint32(60, LE), view.getUint32(64, LE), view.getUint32(68, LE)]).toEqual([7, 0x102f38, 0]);
  });

  it('names a tcp6 socket’s IPv4 peer as ::ffff:a.b.c.d, and big-endian hosts get big-endian headers', () => {
    const id = idOf({ protocol: 'tcp6', local: { address: '2001:db8::1', port: 443 }, remote: { address: '192.0.2.7', port: 50000 }, cookie: '1ffffffff' });
    const bytes = sockDestroyRequest({ id, sequence: 0x01020304, littleEndian: false });
    const view = new DataView(bytes.buffer);
    expect([view.getUint32(0, false), view.getUint16(4, false), view.getUint32(8, false)]).toEqual([72, SOCK_DESTROY, 0x01020304]);
    expect(bytes[16]).toBe(AF_INET6);
    expect([...bytes.subarray(28, 44)]).toEqual([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]);
    expect([...bytes.subarray(44, 60)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7]);
    expect([view.getUint32(64, false), view.getUint32(68, false)]).toEqual([0xffffffff, 1]);
  });

  it('asks the lookup without a cookie as INET_DIAG_NOCOOKIE and without NLM_F_DUMP', () => {
    const bytes = sockDiagLookupRequest({ id: { ...idOf(tcpRow(facts.b)), cookie: undefined }, sequence: 3, littleEndian: LE });
    const view = new DataView(bytes.buffer);
    expect([view.getUint16(4, LE), view.getUint16(6, LE)]).toEqual([SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_ACK]);
    expect([view.getUint32(64, LE), view.getUint32(68, LE)]).toEqual([0xffffffff, 0xffffffff]);
  });

  it('is the request the kernel echoed in its error answer (an NLMSG_ERROR carries the request it refuses)', () => {
    const gone = readFixtureBytes('linux-sock-destroy-ack-gone-kernel6.bin');
    expect([...gone.subarray(20)]).toEqual([...sockDestroyRequest({ id: idOf(tcpRow(facts.a)), sequence: 4, littleEndian: LE })]);
    const stale = readFixtureBytes('linux-sock-destroy-ack-stale-cookie-kernel6.bin');
    expect([...stale.subarray(20)]).toEqual([...sockDestroyRequest({ id: idOf(tcpRow({ ...facts.b, cookie: facts.staleCookie })), sequence: 2, littleEndian: LE })]);
  });
});

describe('parseNetlinkAck on the kernel’s answers (Linux 6.18)', () => {
  const answer = (name: string) => [readFixtureBytes(name)];

  it('reads an acknowledgement (error 0) of the SOCK_DESTROY that ended a socket', () => {
    expect(parseNetlinkAck(answer('linux-sock-destroy-ack-ended-kernel6.bin'), { sequence: 1, littleEndian: LE })).toEqual({ errno: 0 });
  });

  it('reads ENOENT both for a socket gone and for a live 4-tuple whose cookie is not the one asked for', () => {
    // tcp_diag_find_one_icsk answers a cookie mismatch with ENOENT, not sock_diag_check_cookie's ESTALE.
    expect(parseNetlinkAck(answer('linux-sock-destroy-ack-gone-kernel6.bin'), { sequence: 4, littleEndian: LE })).toEqual({ errno: 2 });
    expect(parseNetlinkAck(answer('linux-sock-destroy-ack-stale-cookie-kernel6.bin'), { sequence: 2, littleEndian: LE })).toEqual({ errno: 2 });
  });

  it('steps over the lookup’s inet_diag_msg to its acknowledgement; the message itself is the live socket', () => {
    const lookup = answer('linux-sock-diag-lookup-kernel6.bin');
    expect(parseNetlinkAck(lookup, { sequence: 3, littleEndian: LE })).toEqual({ errno: 0 });
    const { rows, problems } = parseSockDiag(lookup, { littleEndian: LE });
    expect(problems).toEqual([]);
    expect(rows).toEqual([expect.objectContaining({ state: TcpState.CLOSE_WAIT, local: facts.b.local, remote: facts.b.remote, cookie: facts.b.cookie })]);
    expect(rows[0]!.boundInterface).toBeUndefined(); // idiag_if 0: not bound
  });

  it('keeps idiag_if as boundInterface when the socket is bound to an interface', () => {
    // Written for the test: the captured lookup answer with idiag_if (byte 16 + 4 + 36) set to 3.
    const bound = Uint8Array.from(readFixtureBytes('linux-sock-diag-lookup-kernel6.bin'));
    new DataView(bound.buffer).setUint32(56, 3, LE);
    expect(parseSockDiag([bound], { littleEndian: LE }).rows[0]!.boundInterface).toBe(3);
    expect(idOf(parseSockDiag([bound], { littleEndian: LE }).rows[0]!).boundInterface).toBe(3);
  });

  it('answers to its own sequence only', () => {
    expect(parseNetlinkAck(answer('linux-sock-destroy-ack-ended-kernel6.bin'), { sequence: 2, littleEndian: LE })).toEqual({ problem: 'no acknowledgement of request 2' });
  });
});

describe('parseNetlinkAck on bytes written for the test', () => {
  // The shape of the captured answers: nlmsghdr (type 2 NLMSG_ERROR, the request's sequence), int error.
  const ack = (sequence: number, error: number, length = 20) => {
    const bytes = new Uint8Array(Math.max(length, 16));
    const view = new DataView(bytes.buffer);
    view.setUint32(0, length, LE);
    view.setUint16(4, 2, LE);
    view.setUint32(8, sequence, LE);
    if (bytes.length >= 20) view.setInt32(16, error, LE);
    return bytes;
  };

  it('gives any errno the kernel sends, ESTALE included', () => {
    expect(parseNetlinkAck([ack(5, -116)], { sequence: 5, littleEndian: LE })).toEqual({ errno: 116 });
    expect(parseNetlinkAck([ack(5, -1)], { sequence: 5, littleEndian: LE })).toEqual({ errno: 1 });
    expect(parseNetlinkAck([ack(5, -95)], { sequence: 5, littleEndian: LE })).toEqual({ errno: 95 });
  });

  it('finds the answer in a later datagram', () => {
    const other = ack(4, -2);
    expect(parseNetlinkAck([other, ack(5, 0)], { sequence: 5, littleEndian: LE })).toEqual({ errno: 0 });
  });

  it('says what is wrong with a truncated or overlong message instead of reading past it', () => {
    expect(parseNetlinkAck([ack(5, 0, 16)], { sequence: 5, littleEndian: LE })).toEqual({ problem: 'truncated NLMSG_ERROR: 16 bytes, 20 expected' });
    expect(parseNetlinkAck([ack(5, 0).subarray(0, 10)], { sequence: 5, littleEndian: LE })).toEqual({ problem: 'truncated netlink header: 10 bytes, 16 expected' });
    const overlong = ack(5, 0);
    new DataView(overlong.buffer).setUint32(0, 400, LE);
    expect(parseNetlinkAck([overlong], { sequence: 5, littleEndian: LE })).toEqual({ problem: 'netlink message length 400 does not fit the 20 bytes left' });
    expect(parseNetlinkAck([], { sequence: 5, littleEndian: LE })).toEqual({ problem: 'no acknowledgement of request 5' });
  });
});
