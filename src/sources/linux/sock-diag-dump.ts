import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SourceError, SourceUnavailableError } from '../source.js';

// The I/O half of the netlink source: a NETLINK_SOCK_DIAG socket driven through libc with the koffi
// FFI library (Node has no AF_NETLINK), on a worker thread so the blocking recv() calls never hold
// the event loop (the dashboard keeps drawing while 100,000 sockets are dumped). The worker sends
// each received datagram back as it arrives (the ArrayBuffer is transferred, not copied), so the
// main thread parses one datagram while the kernel fills the next.

/**
 * A network namespace to open the sock_diag socket in: its namespace file (`/run/netns/NAME`,
 * `/proc/PID/ns/net`) and, when known, its inode (the file must still open that namespace: a pid's
 * link may now be another process's, a name may have been made again).
 */
export interface NetnsTarget {
  path: string;
  inode?: number;
}

/** One dump: the request bytes (parse-sock-diag.ts sockDiagRequest) for one address family, in `netns` (this thread's own namespace without it). */
export interface SockDiagDumpRequest {
  request: Uint8Array;
  netns?: NetnsTarget;
}

/**
 * Runs one dump, handing each datagram to `onDatagram` in order; resolves when the kernel has sent
 * NLMSG_DONE or NLMSG_ERROR. Rejects with SourceUnavailableError when the library cannot load or the
 * kernel refuses NETLINK_SOCK_DIAG (socket() fails), SourceError for any other failure.
 */
export type SockDiagDumper = (request: SockDiagDumpRequest, onDatagram: (bytes: Uint8Array) => void) => Promise<void>;

export interface SockDiagChannel {
  dump: SockDiagDumper;
  close(): void;
}

/**
 * One request that is not a dump (SOCK_DESTROY, an exact lookup), sent with NLM_F_ACK (in `netns`
 * when given): resolves with every datagram received up to and including the one holding
 * NLMSG_ERROR (the kernel's answer; parse-sock-diag.ts parseNetlinkAck). Rejects as the dump does;
 * a SockDiagStepError's `step` tells a request never sent ('load', 'netns', 'socket', 'send') from
 * one whose answer was lost ('recv').
 */
export interface SockDiagExchanger {
  exchange(request: Uint8Array, netns?: NetnsTarget): Promise<Uint8Array[]>;
  close(): void;
}

/**
 * Where the worker failed: before the request left ('load'; 'netns': the namespace could not be
 * opened or entered; 'socket', 'send') or after ('recv').
 */
export type SockDiagStep = 'load' | 'netns' | 'socket' | 'send' | 'recv';

/** A failed dump or exchange, with the step that failed and the errno's name where there is one (`ENOENT`). */
export class SockDiagStepError extends SourceError {
  override name = 'SockDiagStepError';
  constructor(
    message: string,
    readonly step: SockDiagStep,
    readonly errno?: string,
  ) {
    super(message);
  }
}

/**
 * The namespace could not be used: `gone` when its file no longer opens it (ENOENT, ESRCH, or it now
 * opens another namespace), else refused (EPERM, EACCES: setns(2) needs CAP_SYS_ADMIN) or not a
 * network namespace file (EINVAL).
 */
export class NetnsEntryError extends SockDiagStepError {
  override name = 'NetnsEntryError';
  constructor(
    message: string,
    errno: string,
    readonly gone: boolean,
  ) {
    super(message, 'netns', errno);
  }
}

// Linux errno numbers a sock_diag socket or dump reports (asm-generic/errno-base.h, errno.h).
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM',
  2: 'ENOENT',
  3: 'ESRCH',
  12: 'ENOMEM',
  13: 'EACCES',
  22: 'EINVAL',
  38: 'ENOSYS',
  93: 'EPROTONOSUPPORT',
  95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT',
  116: 'ESTALE',
};

/** A Linux errno number's name (`EPERM`), or `errno N` for one not listed. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

// Refused with these, socket() means "no sock_diag here", not "this dump failed".
const UNAVAILABLE_SOCKET_ERRNOS: ReadonlySet<string> = new Set(['EPROTONOSUPPORT', 'EAFNOSUPPORT', 'EPERM', 'EACCES', 'ENOSYS']);

// Plain JavaScript, run with `eval` so the same code works from the built dist/ and from the
// TypeScript sources under vitest. Messages in: { id, request: ArrayBuffer, kind, netns? }; out for
// a dump (kind 'dump'): { id, datagram } per datagram then { id, end: true }; for one request
// answered by NLMSG_ERROR (kind 'exchange'): { id, datagrams: [...], end: true } at once; either may
// instead end with { id, errno, step } (step: 'load' | 'netns' | 'socket' | 'send' | 'recv'; a
// 'netns' reply may say `code` (fs's error code), `moved` (the inode the path opens now), `own`
// (this thread's own namespace could not be opened) or `stuck` (it could not be re-entered)).
// libc: socket(AF_NETLINK = 16, SOCK_RAW = 3 | SOCK_CLOEXEC = 0x80000, NETLINK_SOCK_DIAG = 4),
// SO_RCVTIMEO (SOL_SOCKET = 1, optname 20, struct timeval of 16 bytes on 64-bit Linux) so a kernel
// that never answers fails the poll instead of hanging the worker.
// Another namespace (setns(2), CLONE_NEWNET = 0x40000000): a socket answers for the namespace it was
// created in, and setns moves the calling thread only (a worker is its own OS thread; the main
// thread and libuv's pool stay where they are). So the thread enters the namespace, creates the
// socket, and goes back to its own namespace (an fd of it from /proc/thread-self, opened just
// before) before anything else runs; both files are closed at once, so no descriptor outlives the
// request and nothing here holds a namespace alive (a socket kept per namespace would: a deleted
// pod's namespace would live on).
// The file must still open the namespace the caller saw (fstat's st_ino is the namespace inode).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
let libc;
try {
  const koffi = require(workerData.koffiPath);
  const lib = koffi.load('libc.so.6');
  libc = {
    koffi,
    socket: lib.func('int socket(int, int, int)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    sendto: lib.func('intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)'),
    recv: lib.func('intptr_t recv(int, _Out_ void *, size_t, int)'),
    close: lib.func('int close(int)'),
    setns: lib.func('int setns(int, int)'),
  };
  // glibc only (musl has none): hands the free pages of every malloc arena back to the kernel.
  try {
    libc.mallocTrim = lib.func('int malloc_trim(size_t)');
  } catch {}
} catch (error) {
  libc = { loadError: String(error && error.message || error) };
}
const BUFFER_BYTES = 1 << 18;
const CLONE_NEWNET = 0x40000000;
let stuck = false;
const fsErrno = (error) => ({ errno: Math.abs(Number(error && error.errno) || 0), code: String(error && error.code || error) });
// The sock_diag socket, in netns when given: { fd } or a failure { step, errno, ... }.
function openSocket(netns) {
  if (!netns) {
    const fd = libc.socket(16, 3 | 0x80000, 4);
    return fd < 0 ? { step: 'socket', errno: libc.koffi.errno() } : { fd };
  }
  let own;
  try {
    own = fs.openSync('/proc/thread-self/ns/net', 'r');
  } catch (error) {
    return { step: 'netns', own: true, ...fsErrno(error) };
  }
  let target = -1;
  try {
    try {
      target = fs.openSync(netns.path, 'r');
    } catch (error) {
      return { step: 'netns', ...fsErrno(error) };
    }
    if (netns.inode !== undefined) {
      const inode = fs.fstatSync(target).ino;
      if (inode !== netns.inode) return { step: 'netns', moved: inode };
    }
    if (libc.setns(target, CLONE_NEWNET) !== 0) return { step: 'netns', errno: libc.koffi.errno() };
    let fd = -1;
    let errno = 0;
    try {
      fd = libc.socket(16, 3 | 0x80000, 4);
      if (fd < 0) errno = libc.koffi.errno();
    } finally {
      if (libc.setns(own, CLONE_NEWNET) !== 0) {
        stuck = true;
        errno = libc.koffi.errno();
        if (fd >= 0) libc.close(fd);
      }
    }
    if (stuck) return { step: 'netns', stuck: true, errno };
    return fd < 0 ? { step: 'socket', errno } : { fd };
  } finally {
    if (target >= 0) fs.closeSync(target);
    fs.closeSync(own);
  }
}
// Back-pressure: at most MAX_IN_FLIGHT datagrams sent and not yet taken by the main thread (which
// counts them in workerData.delivered), so a census is never all in memory at once as datagrams
// (~30 MB at 100,000 sockets: the kernel fills them faster than they are parsed). The kernel
// builds the next datagram only when it is read, so waiting costs nothing but time; after
// timeoutSeconds without the main thread taking one, the worker reads on rather than stall.
const MAX_IN_FLIGHT = 64;
const delivered = new Int32Array(workerData.delivered);
let sent = 0;
function awaitRoom() {
  const deadline = Date.now() + workerData.timeoutSeconds * 1000;
  for (;;) {
    const taken = Atomics.load(delivered, 0);
    if (sent - taken < MAX_IN_FLIGHT || Date.now() >= deadline) return;
    Atomics.wait(delivered, 0, taken, 1000);
  }
}
parentPort.on('message', ({ id, request, kind, netns }) => {
  if (libc.loadError) return parentPort.postMessage({ id, step: 'load', message: libc.loadError });
  // The datagrams of the last dump (a census: ~30 MB at 100,000 sockets) were allocated in this
  // thread's malloc arena and freed by the main thread's GC since; glibc keeps such pages resident
  // (measured: 17-23 MB of serve's RSS at 96,000 sockets) until asked to trim.
  if (kind === 'dump' && libc.mallocTrim) libc.mallocTrim(0);
  // A thread that could not go back to its own namespace reads nothing more.
  if (stuck) return parentPort.postMessage({ id, step: 'netns', stuck: true, errno: 0 });
  const opened = openSocket(netns);
  if (opened.fd === undefined) return parentPort.postMessage({ id, ...opened });
  const fd = opened.fd;
  try {
    const timeout = Buffer.alloc(16);
    timeout.writeBigInt64LE(BigInt(workerData.timeoutSeconds), 0);
    libc.setsockopt(fd, 1, 20, timeout, 16);
    const kernel = Buffer.alloc(12); // struct sockaddr_nl: AF_NETLINK, pad, nl_pid 0 (the kernel), nl_groups 0
    kernel.writeUInt16LE(16, 0);
    const bytes = Buffer.from(request);
    if (libc.sendto(fd, bytes, bytes.length, 0, kernel, 12) < 0) return parentPort.postMessage({ id, step: 'send', errno: libc.koffi.errno() });
    const buffer = Buffer.alloc(BUFFER_BYTES);
    const collected = [];
    for (;;) {
      if (kind === 'dump') awaitRoom();
      const got = Number(libc.recv(fd, buffer, BUFFER_BYTES, 0));
      if (got < 0) {
        const errno = libc.koffi.errno();
        if (errno === 4) continue; // EINTR
        return parentPort.postMessage({ id, step: 'recv', errno });
      }
      if (got === 0) return parentPort.postMessage({ id, step: 'recv', errno: 0 });
      const datagram = new ArrayBuffer(got);
      new Uint8Array(datagram).set(buffer.subarray(0, got));
      // The dump ends with NLMSG_DONE (3) or NLMSG_ERROR (2): walk the headers (host order) to see it.
      let ended = false;
      for (let at = 0; at + 16 <= got; ) {
        const length = workerData.littleEndian ? buffer.readUInt32LE(at) : buffer.readUInt32BE(at);
        const type = workerData.littleEndian ? buffer.readUInt16LE(at + 4) : buffer.readUInt16BE(at + 4);
        if (type === 2 || type === 3 || length < 16) { ended = true; break; }
        at += (length + 3) & ~3;
      }
      if (kind === 'exchange') {
        collected.push(datagram);
        if (ended) return parentPort.postMessage({ id, datagrams: collected, end: true }, collected);
        continue;
      }
      sent++;
      parentPort.postMessage({ id, datagram }, [datagram]);
      if (ended) return parentPort.postMessage({ id, end: true });
    }
  } finally {
    libc.close(fd);
  }
});
`;

interface WorkerReply {
  id: number;
  datagram?: ArrayBuffer;
  datagrams?: ArrayBuffer[];
  end?: boolean;
  step?: SockDiagStep;
  errno?: number;
  message?: string;
  /** step 'netns': fs's error code of the failed open, the inode the path opens now, this thread's own namespace failed, or the thread is stuck outside it. */
  code?: string;
  moved?: number;
  own?: boolean;
  stuck?: boolean;
}

// An open(2) or setns(2) of a namespace file failing with these: the namespace is gone (its process
// exited, its name was deleted).
const GONE_NETNS_ERRNOS: ReadonlySet<string> = new Set(['ENOENT', 'ESRCH']);

/**
 * What a 'netns' reply means, as the error the dump or exchange rejects with: NetnsEntryError for
 * the namespace asked for; SourceUnavailableError when this thread's own namespace cannot be opened
 * (no way back, so none is entered); a plain SockDiagStepError when the thread is stuck outside it.
 */
function netnsFailure(reply: WorkerReply, netns: NetnsTarget | undefined): SourceError {
  const path = netns?.path ?? '?';
  if (reply.stuck) return new SockDiagStepError(`netlink: the worker thread could not return to its own network namespace (${errnoName(reply.errno ?? 0)}): it reads nothing more`, 'netns');
  const name = reply.code && reply.code.startsWith('E') ? reply.code : errnoName(reply.errno ?? -1);
  if (reply.own) return new SourceUnavailableError(`netlink: cannot open this thread's own network namespace (/proc/thread-self/ns/net: ${name}), so no other is entered`);
  if (reply.moved !== undefined) return new NetnsEntryError(`netlink: ${path} opens another network namespace now (net:[${reply.moved}]): net:[${netns?.inode}] is gone`, 'ESTALE', true);
  if (GONE_NETNS_ERRNOS.has(name)) return new NetnsEntryError(`netlink: cannot open ${path} (${name}): the network namespace is gone`, name, true);
  if (name === 'EPERM' || name === 'EACCES')
    return new NetnsEntryError(`netlink: cannot enter network namespace ${path} (${name}: setns needs CAP_SYS_ADMIN, opening /proc/<pid>/ns/net CAP_SYS_PTRACE)`, name, false);
  if (name === 'EINVAL') return new NetnsEntryError(`netlink: ${path} is not a network namespace file (setns: EINVAL)`, name, false);
  return new NetnsEntryError(`netlink: cannot enter network namespace ${path} (${name})`, name, false);
}

/** Where koffi is installed, or undefined when it is not (it is an optional dependency). */
export function resolveKoffi(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('koffi');
  } catch {
    return undefined;
  }
}

/**
 * A worker thread holding the libc binding; dumps run one after another on it. The worker is
 * unref'd between dumps, so an idle channel never keeps the process alive. `close` ends it.
 */
export function openSockDiagChannel(options: { littleEndian: boolean; timeoutSeconds?: number }): SockDiagChannel & SockDiagExchanger {
  const koffiPath = resolveKoffi();
  if (!koffiPath) throw new SourceUnavailableError('netlink: the koffi library is not installed (an optional dependency)');
  // How many dump datagrams the main thread has taken (the worker's back-pressure, see WORKER_SOURCE).
  const delivered = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { koffiPath, littleEndian: options.littleEndian, timeoutSeconds: options.timeoutSeconds ?? 10, delivered } });
  worker.unref();
  const taken = new Int32Array(delivered);
  // Every dump datagram counts as taken when it arrives, whether a dump still waits for it or not.
  worker.on('message', (reply: WorkerReply) => {
    if (!reply.datagram) return;
    Atomics.add(taken, 0, 1);
    Atomics.notify(taken, 0);
  });
  let nextId = 0;
  let queue: Promise<void> = Promise.resolve();
  let failed: Error | undefined;
  worker.on('error', (error) => (failed = error));
  worker.on('exit', (code) => (failed ??= new Error(`the worker ended (exit code ${code})`)));

  const runOne = (kind: 'dump' | 'exchange', request: SockDiagDumpRequest, onDatagram: (bytes: Uint8Array) => void) =>
    new Promise<void>((resolve, reject) => {
      if (failed) return reject(new SourceError(`netlink: worker failed: ${failed.message}`, { cause: failed }));
      const id = ++nextId;
      const finish = (error?: Error) => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        worker.unref();
        if (error) reject(error);
        else resolve();
      };
      const onError = (error: Error) => finish(new SourceError(`netlink: worker failed: ${error.message}`, { cause: error }));
      // A worker that ends mid-dump (terminated by close, or crashed) must not leave the poll waiting.
      const onExit = (code: number) => finish(new SourceError(`netlink: the worker ended (exit code ${code})`));
      const onMessage = (reply: WorkerReply) => {
        if (reply.id !== id) return;
        if (reply.datagram || reply.datagrams) {
          try {
            for (const datagram of reply.datagrams ?? [reply.datagram!]) onDatagram(new Uint8Array(datagram));
          } catch (error) {
            return finish(error as Error);
          }
          if (!reply.end) return;
        }
        if (reply.end) return finish();
        const step = reply.step ?? 'recv';
        if (step === 'netns') {
          const error = netnsFailure(reply, request.netns);
          // Fail closed: a thread left in another namespace would answer every later dump for it.
          if (reply.stuck) {
            failed ??= error;
            void worker.terminate();
          }
          return finish(error);
        }
        if (step === 'load') return finish(new SourceUnavailableError(`netlink: the koffi library cannot load: ${reply.message}`));
        const name = errnoName(reply.errno ?? -1);
        if (reply.step === 'socket' && UNAVAILABLE_SOCKET_ERRNOS.has(name)) return finish(new SourceUnavailableError(`netlink: the kernel refuses NETLINK_SOCK_DIAG (${name})`));
        const why = reply.errno === 11 ? 'no answer within the timeout' : reply.errno === 0 ? 'the kernel closed the socket' : `errno ${reply.errno}`;
        finish(new SockDiagStepError(`netlink: ${step} failed: ${why}`, step));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.ref();
      // A copy: the caller may reuse its request bytes.
      worker.postMessage({ id, kind, request: request.request.slice().buffer, netns: request.netns ? { path: request.netns.path, inode: request.netns.inode } : undefined });
    });

  return {
    dump(request, onDatagram) {
      const run = queue.then(() => runOne('dump', request, onDatagram));
      queue = run.catch(() => undefined);
      return run;
    },
    exchange(request, netns) {
      const datagrams: Uint8Array[] = [];
      const run = queue.then(() => runOne('exchange', netns ? { request, netns } : { request }, (bytes) => datagrams.push(bytes)));
      queue = run.catch(() => undefined);
      return run.then(() => datagrams);
    },
    close() {
      void worker.terminate();
    },
  };
}
