import { describe, expect, it } from 'vitest';
import { connectionKey } from '../../../src/core/connection.js';
import { NetlinkSource } from '../../../src/sources/linux/netlink.js';
import { SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK, tcpDiagRequest } from '../../../src/sources/linux/parse-sock-diag.js';
import { FakePlatform } from '../../fake-platform.js';
import { capturedReplyTo, refusalOf, requestType } from './captured-kernel.js';

// Both families in one walk of the kernel's tables (TCPDIAG_GETSOCK, the first inet_diag request,
// whose dump runs with AF_UNSPEC): two SOCK_DIAG_BY_FAMILY dumps walked the whole table twice, and
// the AF_INET6 walk of an IPv4 host found nothing for 14-19 ms at 95,000 sockets.

describe('netlink: one dump for both families', () => {
  it('the request: nlmsghdr (type 18, REQUEST|DUMP) + struct inet_diag_req (AF_UNSPEC, tcp_info, no cookie, the states)', () => {
    const bytes = tcpDiagRequest({ states: 0x1b3c, withTcpInfo: true, sequence: 7, littleEndian: true });
    const view = new DataView(bytes.buffer);
    expect(bytes.length).toBe(76); // 16 + sizeof(struct inet_diag_req) = 16 + 60
    expect(view.getUint32(0, true)).toBe(76);
    expect(view.getUint16(4, true)).toBe(TCPDIAG_GETSOCK);
    expect(view.getUint16(6, true)).toBe(0x301); // NLM_F_REQUEST | NLM_F_DUMP
    expect(view.getUint32(8, true)).toBe(7);
    expect([bytes[16], bytes[17], bytes[18], bytes[19]]).toEqual([0, 0, 0, 2]); // AF_UNSPEC, src_len, dst_len, 1 << (INET_DIAG_INFO - 1)
    expect(bytes.subarray(20, 60).every((b) => b === 0)).toBe(true); // ports, addresses, interface: any
    expect([view.getUint32(60, true), view.getUint32(64, true)]).toEqual([0xffffffff, 0xffffffff]); // INET_DIAG_NOCOOKIE
    expect(view.getUint32(68, true)).toBe(0x1b3c);
    expect(view.getUint32(72, true)).toBe(0); // idiag_dbs
    expect(tcpDiagRequest({ withTcpInfo: false, sequence: 1, littleEndian: true })[19]).toBe(0);
  });

  it('where the kernel refuses it (EOPNOTSUPP), one dump per family from then on, with the same rows', async () => {
    const requests: number[] = [];
    const refusing = () => ({
      dump: async ({ request }: { request: Uint8Array }, onDatagram: (bytes: Uint8Array) => void) => {
        requests.push(requestType(request));
        onDatagram(requestType(request) === TCPDIAG_GETSOCK ? refusalOf(request, 95) : capturedReplyTo(request));
      },
      close: () => undefined,
    });
    const answering = () => ({
      dump: async ({ request }: { request: Uint8Array }, onDatagram: (bytes: Uint8Array) => void) => onDatagram(capturedReplyTo(request)),
      close: () => undefined,
    });
    const source = new NetlinkSource({ openChannel: refusing });
    const first = await source.read(new FakePlatform(), { procRoot: '/proc' });
    expect(requests).toEqual([TCPDIAG_GETSOCK, SOCK_DIAG_BY_FAMILY, SOCK_DIAG_BY_FAMILY]);
    expect(first.notices).toEqual([]);
    await source.read(new FakePlatform(), { procRoot: '/proc' });
    expect(requests.slice(3)).toEqual([SOCK_DIAG_BY_FAMILY, SOCK_DIAG_BY_FAMILY]);
    const oneWalk = await new NetlinkSource({ openChannel: answering }).read(new FakePlatform(), { procRoot: '/proc' });
    const flows = (rows: typeof first.rows) => rows.map((r) => `${connectionKey(r)} ${r.state} ${r.inode} ${r.cookie}`).sort();
    expect(flows(first.rows)).toEqual(flows(oneWalk.rows));
    expect(new Set(oneWalk.rows.map((r) => r.protocol))).toEqual(new Set(['tcp', 'tcp6']));
  });

  // The one-walk request refused once, with an errno that says nothing of the request kind
  // (ENOBUFS: a receive buffer overrun; EINTR, EAGAIN, EBUSY, ENOMEM): the dumps per family read
  // this poll, and the next poll asks for the one walk again. Only a refusal of the request kind
  // (EOPNOTSUPP, EINVAL, ENOENT, EPROTONOSUPPORT, EAFNOSUPPORT) makes the dumps per family permanent.
  const refusingOnce = (errno: number, requests: number[]) => {
    let refused = false;
    return () => ({
      dump: async ({ request }: { request: Uint8Array }, onDatagram: (bytes: Uint8Array) => void) => {
        requests.push(requestType(request));
        const refuse = requestType(request) === TCPDIAG_GETSOCK && !refused;
        if (refuse) refused = true;
        onDatagram(refuse ? refusalOf(request, errno) : capturedReplyTo(request));
      },
      close: () => undefined,
    });
  };
  const ERRNO = { ENOENT: 2, EINTR: 4, EAGAIN: 11, ENOMEM: 12, EBUSY: 16, EINVAL: 22, EPROTONOSUPPORT: 93, EOPNOTSUPP: 95, EAFNOSUPPORT: 97, ENOBUFS: 105 };

  for (const name of ['ENOBUFS', 'EINTR', 'EAGAIN', 'EBUSY', 'ENOMEM'] as const) {
    it(`a transient refusal (${name}) of the one walk: dumps per family this poll, the one walk again at the next`, async () => {
      const requests: number[] = [];
      const source = new NetlinkSource({ openChannel: refusingOnce(ERRNO[name], requests) });
      const first = await source.read(new FakePlatform(), { procRoot: '/proc' });
      expect(requests).toEqual([TCPDIAG_GETSOCK, SOCK_DIAG_BY_FAMILY, SOCK_DIAG_BY_FAMILY]);
      expect(new Set(first.rows.map((r) => r.protocol))).toEqual(new Set(['tcp', 'tcp6']));
      await source.read(new FakePlatform(), { procRoot: '/proc' });
      expect(requests.slice(3)).toEqual([TCPDIAG_GETSOCK]);
    });
  }

  it('a one walk the channel fails (a receive error thrown mid-dump): this poll fails, and the next asks for the one walk again', async () => {
    const requests: number[] = [];
    let failed = false;
    const failingOnce = () => ({
      dump: async ({ request }: { request: Uint8Array }, onDatagram: (bytes: Uint8Array) => void) => {
        requests.push(requestType(request));
        if (!failed) {
          failed = true;
          throw Object.assign(new Error('recv: ENOBUFS'), { code: 'ENOBUFS' });
        }
        onDatagram(capturedReplyTo(request));
      },
      close: () => undefined,
    });
    const source = new NetlinkSource({ openChannel: failingOnce });
    await expect(source.read(new FakePlatform(), { procRoot: '/proc' })).rejects.toThrow();
    await source.read(new FakePlatform(), { procRoot: '/proc' });
    expect(requests).toEqual([TCPDIAG_GETSOCK, TCPDIAG_GETSOCK]);
  });

  for (const name of ['EOPNOTSUPP', 'EINVAL', 'EPROTONOSUPPORT', 'EAFNOSUPPORT'] as const) {
    it(`a refusal of the request kind (${name}): dumps per family from then on`, async () => {
      const requests: number[] = [];
      const source = new NetlinkSource({ openChannel: refusingOnce(ERRNO[name], requests) });
      await source.read(new FakePlatform(), { procRoot: '/proc' });
      await source.read(new FakePlatform(), { procRoot: '/proc' });
      expect(requests).toEqual([TCPDIAG_GETSOCK, SOCK_DIAG_BY_FAMILY, SOCK_DIAG_BY_FAMILY, SOCK_DIAG_BY_FAMILY, SOCK_DIAG_BY_FAMILY]);
    });
  }

  it('a kernel without TCP diag at all (ENOENT to every request) is still "unavailable", as before', async () => {
    const refusingAll = () => ({
      dump: async ({ request }: { request: Uint8Array }, onDatagram: (bytes: Uint8Array) => void) => onDatagram(refusalOf(request, 2)),
      close: () => undefined,
    });
    await expect(new NetlinkSource({ openChannel: refusingAll }).read(new FakePlatform(), { procRoot: '/proc' })).rejects.toThrow(/refuses the TCP dump \(ENOENT/);
  });
});
