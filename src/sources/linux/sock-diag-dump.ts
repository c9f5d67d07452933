import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SourceError, SourceUnavailableError } from '../source.js';

// The I/O half of the netlink source: a NETLINK_SOCK_DIAG socket driven through libc with the koffi
// FFI library (Node has no AF_NETLINK). The blocking recv() calls never run on the main thread:
// each is one of koffi's asynchronous calls (`fn.async`), run on libuv's thread pool, so the event
// loop turns between datagrams (the dashboard keeps drawing while 100,000 sockets are dumped). The
// next recv() is queued before the datagram just received is parsed, so the kernel fills one while
// the main thread parses the other; two buffers, reused, hold them (no allocation per datagram).
// Only another network namespace needs a thread of our own (setns(2) moves the calling thread, and a
// thread-pool thread cannot be held across three calls): a small worker, started the first time
// `--netns` asks, creates the socket there and hands its descriptor back.

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
 * Runs one dump, handing each datagram to `onDatagram` in order (its bytes are valid only during
 * the call: the buffer is reused for a later datagram, so a caller that keeps them copies them);
 * resolves when the kernel has sent
 * NLMSG_DONE or NLMSG_ERROR. Rejects with SourceUnavailableError when the library cannot load or the
 * kernel refuses NETLINK_SOCK_DIAG (socket() fails), SourceError for any other failure.
 */
export type SockDiagDumper = (request: SockDiagDumpRequest, onDatagram: (bytes: Uint8Array) => void) => Promise<void>;

export interface SockDiagChannel {
  dump: SockDiagDumper;
  /**
   * Reads `files` (paths under /proc/thread-self, such as `net/tcp`) from inside `netns`, keeping each
   * file's first line (its header) and the rows whose `st` column is `state` (hex, `03`). One
   * result per file, in order: its text, or the fs error code it failed with. Rejects as a dump does
   * when the namespace cannot be entered. Absent where the channel cannot enter a namespace.
   */
  readInNetns?(netns: NetnsTarget, files: readonly string[], state: string): Promise<NetnsFileRead[]>;
  close(): void;
}

/** One file read inside a namespace: its text, or the fs error code (`ENOENT`, `EACCES`). */
export type NetnsFileRead = { text: string } | { code: string };

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
 * Where a request failed: before it left ('load'; 'netns': the namespace could not be opened or
 * entered; 'socket', 'send') or after ('recv').
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
  4: 'EINTR',
  11: 'EAGAIN',
  12: 'ENOMEM',
  13: 'EACCES',
  16: 'EBUSY',
  22: 'EINVAL',
  38: 'ENOSYS',
  93: 'EPROTONOSUPPORT',
  95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT',
  105: 'ENOBUFS',
  116: 'ESTALE',
};

/** A Linux errno number's name (`EPERM`), or `errno N` for one not listed. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

// Refused with these, socket() means "no sock_diag here", not "this dump failed".
const UNAVAILABLE_SOCKET_ERRNOS: ReadonlySet<string> = new Set(['EPROTONOSUPPORT', 'EAFNOSUPPORT', 'EPERM', 'EACCES', 'ENOSYS']);

// The worker that opens a sock_diag socket in another network namespace. Plain JavaScript, run with
// `eval` so the same code works from the built dist/ and from the TypeScript sources under vitest
// (getBuiltinModule: as CommonJS or as a module). Messages in: { id, netns: { path, inode? } } (open a
// socket there) or { id, netns, read: { files, state } } (read /proc/thread-self/<file> there); out:
// { id, fd } (the socket, now this process's to use and close), { id, files: [{ text } | { code }] },
// or a failure { id, step, errno, ... }
// (step: 'load' | 'netns' | 'socket'; a 'netns' reply may say `code` (fs's error code), `moved` (the
// inode the path opens now), `own` (this thread's own namespace could not be opened) or `stuck` (it
// could not be re-entered)).
// /proc/thread-self/net is the calling thread's own namespace's (proc(5): /proc/[pid]/task/[tid]/net
// follows that task's nsproxy; fs/proc/proc_net.c get_proc_task_net), so a thread in the namespace
// reads its /proc/net/tcp even where no process is in it (a namespace held by an ip netns mount).
// setns(2), CLONE_NEWNET = 0x40000000: a socket answers for the namespace it was created in, and
// setns moves the calling thread only (the main thread and libuv's pool stay where they are). So the
// thread enters the namespace, creates the socket, and goes back to its own namespace (an fd of it
// from /proc/thread-self, opened just before) before anything else runs; both files are closed at
// once, and the socket is closed by the main thread after its request, so nothing here holds a
// namespace alive (a socket kept per namespace would: a deleted pod's namespace would live on).
// The file must still open the namespace the caller saw (fstat's st_ino is the namespace inode).
// libc: socket(AF_NETLINK = 16, SOCK_RAW = 3 | SOCK_CLOEXEC = 0x80000, NETLINK_SOCK_DIAG = 4).
const NETNS_WORKER_SOURCE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const fs = process.getBuiltinModule('node:fs');
let libc;
try {
  const koffi = process.getBuiltinModule('node:module').createRequire(workerData.koffiPath)(workerData.koffiPath);
  const lib = koffi.load('libc.so.6');
  libc = {
    koffi,
    socket: lib.func('int socket(int, int, int)'),
    close: lib.func('int close(int)'),
    setns: lib.func('int setns(int, int)'),
  };
} catch (error) {
  libc = { loadError: String(error && error.message || error) };
}
const CLONE_NEWNET = 0x40000000;
let stuck = false;
const fsErrno = (error) => ({ errno: Math.abs(Number(error && error.errno) || 0), code: String(error && error.code || error) });
// Runs work() with this thread in netns, and goes back before returning (or answers where entering failed).
function inside(netns, work) {
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
    let reply = { step: 'netns', errno: 0 };
    try {
      reply = work();
    } finally {
      if (libc.setns(own, CLONE_NEWNET) !== 0) {
        stuck = true;
        const errno = libc.koffi.errno();
        if (reply.fd >= 0) libc.close(reply.fd);
        reply = { step: 'netns', stuck: true, errno };
      }
    }
    return reply;
  } finally {
    if (target >= 0) fs.closeSync(target);
    fs.closeSync(own);
  }
}
function openSocket() {
  const fd = libc.socket(16, 3 | 0x80000, 4);
  return fd < 0 ? { step: 'socket', errno: libc.koffi.errno() } : { fd };
}
// One /proc/thread-self/<file> (this thread's namespace's table), as { text } holding its header and
// the rows in state \`state\` (hex, as the table prints it) only, or { code } where it cannot be read.
// Read in chunks: a table of 100,000 sockets is 15 MB, more than this thread's heap.
function readRows(file, state) {
  let fd;
  try {
    fd = fs.openSync('/proc/thread-self/' + file, 'r');
  } catch (error) {
    return { code: fsErrno(error).code };
  }
  try {
    const buffer = Buffer.allocUnsafe(1 << 16);
    const kept = [];
    let rest = '';
    const keep = (line) => {
      if (kept.length === 0 || line.trim().split(/\\s+/)[3] === state) kept.push(line);
    };
    for (;;) {
      const got = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (got === 0) break;
      const lines = (rest + buffer.toString('latin1', 0, got)).split('\\n');
      rest = lines.pop();
      for (const line of lines) keep(line);
    }
    if (rest) keep(rest);
    return { text: kept.join('\\n') + '\\n' };
  } catch (error) {
    return { code: fsErrno(error).code };
  } finally {
    fs.closeSync(fd);
  }
}
parentPort.on('message', ({ id, netns, read }) => {
  if (libc.loadError) return parentPort.postMessage({ id, step: 'load', message: libc.loadError });
  // A thread that could not go back to its own namespace opens nothing more.
  if (stuck) return parentPort.postMessage({ id, step: 'netns', stuck: true, errno: 0 });
  const work = read ? () => ({ files: read.files.map((file) => readRows(file, read.state)) }) : openSocket;
  parentPort.postMessage({ id, ...inside(netns, work) });
});
`;

/** A socket opened (`fd`), files read (`files`), or where that failed (the worker's reply, or the main thread's own attempt). */
interface OpenReply {
  fd?: number;
  files?: NetnsFileRead[];
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
function netnsFailure(reply: OpenReply, netns: NetnsTarget | undefined): SourceError {
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

/** The error a failed step rejects with (the same whichever thread opened the socket). */
function stepFailure(reply: OpenReply, netns: NetnsTarget | undefined): SourceError {
  const step = reply.step ?? 'recv';
  if (step === 'netns') return netnsFailure(reply, netns);
  if (step === 'load') return new SourceUnavailableError(`netlink: the koffi library cannot load: ${reply.message}`);
  const name = errnoName(reply.errno ?? -1);
  if (step === 'socket' && UNAVAILABLE_SOCKET_ERRNOS.has(name)) return new SourceUnavailableError(`netlink: the kernel refuses NETLINK_SOCK_DIAG (${name})`);
  const why = reply.errno === 11 ? 'no answer within the timeout' : reply.errno === 0 ? 'the kernel closed the socket' : `errno ${reply.errno}`;
  return new SockDiagStepError(`netlink: ${step} failed: ${why}`, step);
}

/** Where koffi is installed, or undefined when it is not (it is an optional dependency). */
export function resolveKoffi(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('koffi');
  } catch {
    return undefined;
  }
}

type RecvCallback = (error: unknown, result: number | bigint) => void;

/** The libc functions the main thread calls through koffi; `recv` also asynchronously (`recv.async`, on libuv's thread pool). */
interface Libc {
  errno(): number;
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, length: number): number;
  sendto(fd: number, bytes: Uint8Array, length: number, flags: number, address: Uint8Array, addressLength: number): number | bigint;
  recv: { async(fd: number, buffer: Uint8Array, length: number, flags: number, callback: RecvCallback): void };
  close(fd: number): number;
  mallocTrim?: (pad: number) => number;
}

// Loaded once per process, on first use (a dump or an exchange), never at import.
let libcLoad: { libc: Libc } | { error: string } | undefined;

function loadLibc(koffiPath: string): Libc {
  if (!libcLoad) {
    try {
      type Koffi = { load(path: string): { func(signature: string): (...args: unknown[]) => unknown }; errno(): number };
      const koffi = createRequire(import.meta.url)(koffiPath) as Koffi;
      const lib = koffi.load('libc.so.6');
      const libc = {
        errno: () => koffi.errno(),
        socket: lib.func('int socket(int, int, int)'),
        setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
        sendto: lib.func('intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)'),
        recv: lib.func('intptr_t recv(int, _Out_ void *, size_t, int)'),
        close: lib.func('int close(int)'),
      } as unknown as Libc;
      // glibc only (musl has none): hands the free pages of every malloc arena back to the kernel.
      try {
        libc.mallocTrim = lib.func('int malloc_trim(size_t)') as unknown as Libc['mallocTrim'];
      } catch {
        // not glibc
      }
      libcLoad = { libc };
    } catch (error) {
      libcLoad = { error: error instanceof Error ? error.message : String(error) };
    }
  }
  if ('error' in libcLoad) throw stepFailure({ step: 'load', message: libcLoad.error }, undefined);
  return libcLoad.libc;
}

// Linux numbers: SOL_SOCKET 1, SO_RCVTIMEO 20 (a struct timeval of 16 bytes on 64-bit Linux), EINTR 4;
// netlink message types NLMSG_ERROR 2, NLMSG_DONE 3.
const BUFFER_BYTES = 1 << 18;
const EINTR = 4;

/** The lazily started worker that opens sockets in other namespaces (NETNS_WORKER_SOURCE); one request at a time. */
class NetnsSocketOpener {
  private worker: Worker | undefined;
  /** Why it opens nothing more: stuck outside its namespace, or the thread failed. */
  private failed: Error | undefined;
  private nextId = 0;

  constructor(private readonly koffiPath: string) {}

  /** A sock_diag socket created in `netns`, or the reply saying where that failed; rejects when the worker fails. */
  open(netns: NetnsTarget): Promise<OpenReply> {
    return this.ask(netns);
  }

  /** Files under /proc/thread-self read from inside `netns` (`files`), or the reply saying where that failed. */
  read(netns: NetnsTarget, read: { files: readonly string[]; state: string }): Promise<OpenReply> {
    return this.ask(netns, read);
  }

  private ask(netns: NetnsTarget, read?: { files: readonly string[]; state: string }): Promise<OpenReply> {
    if (this.failed) return Promise.reject(new SourceError(`netlink: worker failed: ${this.failed.message}`, { cause: this.failed }));
    const worker = this.start();
    const id = ++this.nextId;
    return new Promise<OpenReply>((resolve, reject) => {
      const finish = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        worker.unref();
      };
      const onMessage = (reply: OpenReply & { id: number }) => {
        if (reply.id !== id) return;
        finish();
        // Fail closed: a thread left in another namespace would open every later socket there.
        if (reply.stuck) {
          this.failed ??= netnsFailure(reply, netns);
          void worker.terminate();
        }
        resolve(reply);
      };
      const onError = (error: Error) => {
        finish();
        reject(new SourceError(`netlink: worker failed: ${error.message}`, { cause: error }));
      };
      const onExit = (code: number) => {
        finish();
        reject(new SourceError(`netlink: the worker ended (exit code ${code})`));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.ref();
      worker.postMessage({ id, netns: { path: netns.path, inode: netns.inode }, ...(read ? { read: { files: [...read.files], state: read.state } } : {}) });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    // No execArgv: loaders the main thread runs under (tsx) have nothing to do here. Small heap
    // limits: it holds koffi and a few closures, nothing that grows.
    const worker = new Worker(NETNS_WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { koffiPath: this.koffiPath },
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2, stackSizeMb: 1 },
    });
    worker.on('error', (error) => (this.failed ??= error));
    worker.on('exit', (code) => (this.failed ??= new Error(`the worker ended (exit code ${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  close(): void {
    this.failed ??= new Error('the worker ended (closed)');
    void this.worker?.terminate();
  }
}

/**
 * A sock_diag channel: dumps and exchanges run one after another, each on a socket of its own
 * (opened for the request, closed after it). koffi is loaded on the first request, on this thread;
 * every recv() runs on libuv's thread pool (koffi's asynchronous calls), so nothing here blocks
 * the event loop for longer than one datagram's parse. A request for another namespace starts the
 * namespace worker (NetnsSocketOpener) the first time. Nothing is left holding the process alive
 * between requests; `close` ends the worker, and a request under way fails at its next datagram.
 */
export function openSockDiagChannel(options: { littleEndian: boolean; timeoutSeconds?: number }): SockDiagChannel & SockDiagExchanger {
  const koffiPath = resolveKoffi();
  if (!koffiPath) throw new SourceUnavailableError('netlink: the koffi library is not installed (an optional dependency)');
  const { littleEndian } = options;
  const timeoutSeconds = options.timeoutSeconds ?? 10;
  let opener: NetnsSocketOpener | undefined;
  let closed = false;
  let queue: Promise<void> = Promise.resolve();
  // Two receive buffers: the kernel fills one (on the thread pool) while the other is parsed here.
  let buffers: [Buffer, Buffer] | undefined;

  const closedError = () => new SourceError('netlink: the channel is closed');

  /** The request's socket: opened here (this namespace) or by the namespace worker. */
  const openSocket = async (libc: Libc, netns: NetnsTarget | undefined): Promise<number> => {
    if (!netns) {
      const fd = libc.socket(16, 3 | 0x80000, 4);
      if (fd < 0) throw stepFailure({ step: 'socket', errno: libc.errno() }, undefined);
      return fd;
    }
    opener ??= new NetnsSocketOpener(koffiPath);
    const reply = await opener.open(netns);
    if (reply.fd === undefined) throw stepFailure(reply, netns);
    if (closed) {
      libc.close(reply.fd);
      throw closedError();
    }
    return reply.fd;
  };

  const recvInto = (libc: Libc, fd: number, buffer: Buffer) =>
    new Promise<{ got: number; errno: number }>((resolve, reject) => {
      libc.recv.async(fd, buffer, BUFFER_BYTES, 0, (error, result) => {
        if (error) return reject(new SockDiagStepError(`netlink: recv failed: ${error instanceof Error ? error.message : String(error)}`, 'recv'));
        const got = Number(result);
        // koffi restores the calling thread's errno for this callback (its AsyncCall saves it).
        resolve({ got, errno: got < 0 ? libc.errno() : 0 });
      });
    });

  /** Whether the datagram holds NLMSG_DONE or NLMSG_ERROR (the last of a dump or an answer): walks the headers, in host order. */
  const ends = (buffer: Buffer, got: number): boolean => {
    for (let at = 0; at + 16 <= got;) {
      const length = littleEndian ? buffer.readUInt32LE(at) : buffer.readUInt32BE(at);
      const type = littleEndian ? buffer.readUInt16LE(at + 4) : buffer.readUInt16BE(at + 4);
      if (type === 2 || type === 3 || length < 16) return true;
      at += (length + 3) & ~3;
    }
    return false;
  };

  const runOne = async (kind: 'dump' | 'exchange', request: SockDiagDumpRequest, onDatagram: (bytes: Uint8Array) => void): Promise<void> => {
    if (closed) throw closedError();
    const libc = loadLibc(koffiPath);
    // Freed malloc pages (buffers of the last poll freed by the GC since) stay resident until glibc
    // is asked to trim. With the worker's per-datagram copies this was 17-23 MB of serve's RSS at
    // 96,000 sockets; the datagrams are now read into two reused buffers, and a trim after a
    // 95,000-socket dump took 0.2-0.4 ms and returned nothing measurable (kept as the cheap bound).
    if (kind === 'dump') libc.mallocTrim?.(0);
    const fd = await openSocket(libc, request.netns);
    let pending: Promise<{ got: number; errno: number }> | undefined;
    try {
      // A kernel that never answers fails the request instead of holding a pool thread for ever.
      const timeout = Buffer.alloc(16);
      if (littleEndian) timeout.writeBigInt64LE(BigInt(timeoutSeconds), 0);
      else timeout.writeBigInt64BE(BigInt(timeoutSeconds), 0);
      libc.setsockopt(fd, 1, 20, timeout, 16);
      const kernel = Buffer.alloc(12); // struct sockaddr_nl: AF_NETLINK, pad, nl_pid 0 (the kernel), nl_groups 0
      if (littleEndian) kernel.writeUInt16LE(16, 0);
      else kernel.writeUInt16BE(16, 0);
      // A copy: the caller may reuse its request bytes.
      const bytes = Buffer.from(request.request);
      if (Number(libc.sendto(fd, bytes, bytes.length, 0, kernel, 12)) < 0) throw stepFailure({ step: 'send', errno: libc.errno() }, request.netns);
      buffers ??= [Buffer.allocUnsafeSlow(BUFFER_BYTES), Buffer.allocUnsafeSlow(BUFFER_BYTES)];
      // `current` is the buffer the pending recv() fills; `spare` the other.
      let [current, spare] = buffers;
      let receiving = recvInto(libc, fd, current);
      pending = receiving;
      for (;;) {
        const { got, errno } = await receiving;
        pending = undefined;
        if (closed) throw closedError();
        if (got < 0 && errno === EINTR) {
          pending = receiving = recvInto(libc, fd, current);
          continue;
        }
        if (got <= 0) throw stepFailure({ step: 'recv', errno }, request.netns);
        const received = current;
        const ended = ends(received, got);
        // More is coming: the kernel fills the spare buffer while this one is parsed.
        if (!ended) {
          [current, spare] = [spare, current];
          pending = receiving = recvInto(libc, fd, current);
        }
        onDatagram(received.subarray(0, got));
        if (ended) return;
      }
    } finally {
      // Never close a descriptor a pool thread is still reading (its number could be reused meanwhile).
      if (pending) await pending.catch(() => undefined);
      libc.close(fd);
    }
  };

  return {
    dump(request, onDatagram) {
      const run = queue.then(() => runOne('dump', request, onDatagram));
      queue = run.catch(() => undefined);
      return run;
    },
    async readInNetns(netns, files, state) {
      if (closed) throw closedError();
      opener ??= new NetnsSocketOpener(koffiPath);
      const reply = await opener.read(netns, { files, state });
      if (!reply.files) throw stepFailure(reply, netns);
      return reply.files;
    },
    exchange(request, netns) {
      // Copies (Uint8Array's slice): `bytes` is a Buffer, whose own slice() is a view of the reused buffer.
      const datagrams: Uint8Array[] = [];
      const run = queue.then(() => runOne('exchange', netns ? { request, netns } : { request }, (bytes) => datagrams.push(Uint8Array.prototype.slice.call(bytes))));
      queue = run.catch(() => undefined);
      return run.then(() => datagrams);
    },
    close() {
      closed = true;
      opener?.close();
    },
  };
}
