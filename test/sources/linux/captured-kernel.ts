import { NLMSG_DONE, NLMSG_ERROR, TCPDIAG_GETSOCK } from '../../../src/sources/linux/parse-sock-diag.js';
import { readFixtureBytes } from '../../fixture.js';

// The captured park-sockets dumps (one per family, SOCK_DIAG_BY_FAMILY, kernel 6.18: provenance in
// test/fixtures/README.md), answered as the kernel answers each request, for channel fakes.

export const CAPTURED_INET = readFixtureBytes('linux-sock-diag-inet-park-sockets-kernel6.bin');
export const CAPTURED_INET6 = readFixtureBytes('linux-sock-diag-inet6-park-sockets-kernel6.bin');

const u16 = (bytes: Uint8Array, at: number) => new DataView(bytes.buffer, bytes.byteOffset).getUint16(at, true);
const u32 = (bytes: Uint8Array, at: number) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);

/** The request's nlmsg_type (SOCK_DIAG_BY_FAMILY 20, or TCPDIAG_GETSOCK 18: both families in one walk). */
export const requestType = (request: Uint8Array) => u16(request, 4);
/** The idiag_states mask of either request (inet_diag_req_v2 at byte 20; the compat inet_diag_req at byte 68). */
export const requestStates = (request: Uint8Array) => u32(request, requestType(request) === TCPDIAG_GETSOCK ? 68 : 20);
/** The idiag_ext byte of either request (byte 18 in inet_diag_req_v2, 19 in inet_diag_req). */
export const requestExtensions = (request: Uint8Array) => request[requestType(request) === TCPDIAG_GETSOCK ? 19 : 18]!;

/**
 * What the kernel sends for `request`, from the captured dumps (or `inet`/`inet6` given): a
 * SOCK_DIAG_BY_FAMILY dump gets its family's (byte 16 after the nlmsghdr), a TCPDIAG_GETSOCK dump
 * the AF_INET messages then the AF_INET6 ones (compatReply).
 */
export function capturedReplyTo(request: Uint8Array, inet: Uint8Array = CAPTURED_INET, inet6: Uint8Array = CAPTURED_INET6): Uint8Array {
  return concat(...replyTo(request, [inet], [inet6]));
}

/** As capturedReplyTo, for dumps given as datagrams: the datagrams the kernel would send for `request`. */
export function replyTo(request: Uint8Array, inet: readonly Uint8Array[], inet6: readonly Uint8Array[]): Uint8Array[] {
  if (requestType(request) !== TCPDIAG_GETSOCK) return [...(request[16] === 10 ? inet6 : inet)];
  return compatReply(inet, inet6);
}

/**
 * One SOCK_DIAG_BY_FAMILY dump per family (datagrams) as one TCPDIAG_GETSOCK dump lists them: the
 * AF_INET messages then the AF_INET6 ones, each with that nlmsg_type, and one NLMSG_DONE at the end,
 * as inet_diag_dump_compat's walk of both families does. Datagram boundaries are kept.
 */
export function compatReply(inet: readonly Uint8Array[], inet6: readonly Uint8Array[]): Uint8Array[] {
  const reply: Uint8Array[] = [];
  for (const [family, datagrams] of [inet, inet6].entries())
    for (const datagram of datagrams) {
      const messages: Uint8Array[] = [];
      for (let at = 0; at + 16 <= datagram.length; at += (u32(datagram, at) + 3) & ~3) {
        // A copy (a Buffer's slice() is a view of the fixture's bytes).
        const message = new Uint8Array(datagram.subarray(at, at + ((u32(datagram, at) + 3) & ~3)));
        const done = u16(message, 4) === NLMSG_DONE;
        if (done && family === 0) break; // the walk goes on into the other family
        if (!done) new DataView(message.buffer).setUint16(4, TCPDIAG_GETSOCK, true);
        messages.push(message);
        if (done) break;
      }
      if (messages.length > 0) reply.push(concat(...messages));
    }
  return reply;
}

/** The parts' bytes one after the other. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((n, m) => n + m.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

/** The kernel's refusal of `request`: NLMSG_ERROR with -errno and the request's header (struct nlmsgerr). */
export function refusalOf(request: Uint8Array, errno: number): Uint8Array {
  const bytes = new Uint8Array(36);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 36, true);
  view.setUint16(4, NLMSG_ERROR, true);
  view.setInt32(16, -errno, true);
  bytes.set(request.subarray(0, 16), 20);
  return bytes;
}
