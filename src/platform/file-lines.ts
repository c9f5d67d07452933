import { readlinkSync, type Dir } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { notFileError, type NotFileKind } from './bounded-read.js';
import { interruptedError, readLimitError } from './limits.js';

// Reads a file's lines on a worker thread, handing them over in large chunks; and the socket
// inodes a process's /proc/<pid>/fd links name, there too when the caller has other work meanwhile
// (else on the main thread, in slices). The worker is started on first need and ends when idle
// for IDLE_MS: a second V8 isolate costs ~9 MB of RSS (measured: watch at 95,000 sockets, 11 → 12
// threads once owners are looked up), which a long-running mode should pay only while reading.
//
// Why: /proc/net/tcp is written by the kernel during read(2), one page (~27 sockets) per call
// (seq_file), so 100,000 sockets take ~3,500 reads. Through libuv's thread pool each read is a
// round trip costing ~80 µs (measured: 290 ms against 172 ms for the same reads done
// synchronously). A worker doing the plain synchronous reads, while the main thread parses the
// chunk before, costs the kernel's time and little more.

const CHUNK_CHARS = 256 * 1024;
/** How long the worker may wait for work before it ends (a poll every 2 s keeps it). */
const IDLE_MS = 5000;
/** Links read on the main thread between two turns of the event loop (~1 ms of readlink(2) calls). */
const LINKS_PER_SLICE = 512;
/** Directory entries read at a time by the walk on the main thread (opendir's buffer). */
const DIRECTORY_BATCH = 256;
const SOCKET_LINK = /^socket:\[(\d+)\]$/;
/**
 * readlink(2) errors that prove an entry holds no socket: ENOENT, the descriptor closed since the
 * listing; EINVAL, an entry that is not a link (none in /proc/<pid>/fd). Any other (EACCES and
 * EPERM when the process changed credentials since, EIO…) leaves the entry unknown: it may be a
 * socket, whose owner is then not proven (SocketInodes.unreadLinks).
 */
export const LINK_ERRORS_NO_SOCKET: readonly string[] = ['ENOENT', 'EINVAL'];

/** The socket inodes a process's fd links name (Platform.readSocketInodes). */
export interface SocketInodes {
  inodes: Float64Array;
  /** Links that could not be read for a reason other than LINK_ERRORS_NO_SOCKET: each may be a socket of this process. */
  unreadLinks: number;
  /** The first such error's code (EACCES, EPERM, EIO…), where there was one. */
  unreadCode?: string;
}

// Source for `new Worker(…, { eval: true })`, so there is no file to locate next to the build. It
// runs as CommonJS or as a module (--input-type is inherited): getBuiltinModule works in both.
// Only regular files are read (O_NONBLOCK so a FIFO cannot block open; fstat decides, see
// bounded-read.ts), at most maxBytes of them, and a read stops when `cancel[0]` is set: the worker
// reads synchronously and never sees a message in between, so the flag is shared memory.
const WORKER_SOURCE = `
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const { openSync, readSync, closeSync, fstatSync, readdirSync, readlinkSync, constants } = process.getBuiltinModule('node:fs');
const { StringDecoder } = process.getBuiltinModule('node:string_decoder');
const buffer = Buffer.allocUnsafe(${CHUNK_CHARS});
const SOCKET_LINK = /^socket:\\[(\\d+)\\]$/;
const NO_SOCKET = new Set(${JSON.stringify(LINK_ERRORS_NO_SOCKET)});
function socketInodes(id, dir, cancel) {
  let names;
  try {
    names = readdirSync(dir);
  } catch (error) {
    parentPort.postMessage({ id, error: { code: error.code, message: error.message } });
    return;
  }
  const inodes = new Float64Array(names.length);
  let count = 0;
  let unread = 0;
  let unreadCode;
  for (let i = 0; i < names.length; i++) {
    if (i % 1024 === 0 && Atomics.load(cancel, 0) !== 0) return;
    let link;
    try {
      link = readlinkSync(dir + '/' + names[i]);
    } catch (error) {
      // Closed since the listing, or not a link: no socket. Else unknown (LINK_ERRORS_NO_SOCKET).
      if (!NO_SOCKET.has(error.code)) {
        unread++;
        unreadCode ??= error.code ?? 'EIO';
      }
      continue;
    }
    const match = SOCKET_LINK.exec(link);
    if (match) inodes[count++] = Number(match[1]);
  }
  parentPort.postMessage({ id, inodes: inodes.buffer, count, unread, unreadCode }, [inodes.buffer]);
}
parentPort.on('message', ({ id, path, socketsOf, maxBytes, cancel }) => {
  if (socketsOf !== undefined) return socketInodes(id, socketsOf, cancel);
  let fd;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
    const info = fstatSync(fd);
    if (!info.isFile()) {
      parentPort.postMessage({ id, notFile: { directory: info.isDirectory(), fifo: info.isFIFO(), characterDevice: info.isCharacterDevice(), blockDevice: info.isBlockDevice(), socket: info.isSocket() } });
      return;
    }
    const decoder = new StringDecoder('utf8');
    let text = '';
    let total = 0;
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) {
      if (Atomics.load(cancel, 0) !== 0) return;
      total += n;
      if (total > maxBytes) {
        parentPort.postMessage({ id, tooLarge: true });
        return;
      }
      text += decoder.write(buffer.subarray(0, n));
      if (text.length >= ${CHUNK_CHARS}) {
        parentPort.postMessage({ id, text });
        text = '';
      }
    }
    text += decoder.end();
    if (text) parentPort.postMessage({ id, text });
    parentPort.postMessage({ id, done: true });
  } catch (error) {
    parentPort.postMessage({ id, error: { code: error.code, message: error.message } });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
});
`;

type WorkerMessage =
  | { id: number; text: string }
  | { id: number; inodes: ArrayBuffer; count: number; unread: number; unreadCode?: string }
  | { id: number; done: true }
  | { id: number; notFile: NotFileKind }
  | { id: number; tooLarge: true }
  | { id: number; error: { code?: string; message: string } };

interface PendingRead {
  onText: (text: string) => void;
  /** A directory's socket inodes (readSocketInodes). */
  onInodes?: (inodes: SocketInodes) => void;
  resolve: () => void;
  reject: (error: Error) => void;
  maxBytes: number;
  /** Set to 1 to make the worker stop reading this file. */
  cancel: Int32Array;
}

export interface ReadLimits {
  /** Most bytes read; past them the read rejects with EFBIG. */
  maxBytes: number;
  /** Aborting stops the read and rejects with EINTERRUPTED. */
  signal?: AbortSignal;
}

/**
 * One worker for every read of a process, started on first need; it does not keep the process
 * alive, and ends after `idleMs` without work (the next read starts another).
 */
export class WorkerFileReader {
  private worker: Worker | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, PendingRead>();

  constructor(private readonly idleMs = IDLE_MS) {}

  /**
   * Hands a regular file's text over in chunks, in order; resolves after the last one. Rejects
   * with the open error, EISDIR, ENOTFILE, EFBIG, EINTERRUPTED, or what onText throws; the worker
   * then stops reading that file.
   */
  read(path: string, onText: (text: string) => void, limits: ReadLimits): Promise<void> {
    return this.ask({ path, maxBytes: limits.maxBytes }, { onText }, limits);
  }

  /**
   * The inode of every link in `dir` whose target is "socket:[INODE]", in no set order
   * (entries gone by the time they are read, and other links, are left out), and how many links
   * could not be read for another reason (SocketInodes.unreadLinks). With `beside`, or
   * when the worker is running anyway, read on the worker: synchronous readlink(2) calls and their
   * parsing, none on this thread, so a /proc walk runs beside the caller's work. Otherwise here,
   * LINKS_PER_SLICE links between turns of the event loop: no thread is started for it. Rejects
   * with the listing's error (ENOENT, EACCES), or EINTERRUPTED when `signal` aborts (the walk then
   * stops).
   */
  readSocketInodes(dir: string, signal?: AbortSignal, beside = false): Promise<SocketInodes> {
    if (!beside && !this.worker) return readSocketInodesHere(dir, signal);
    let inodes: SocketInodes = { inodes: new Float64Array(0), unreadLinks: 0 };
    const onInodes = (found: SocketInodes) => {
      inodes = found;
    };
    return this.ask({ socketsOf: dir, maxBytes: 0 }, { onText: () => undefined, onInodes }, signal ? { maxBytes: 0, signal } : { maxBytes: 0 }).then(() => inodes);
  }

  private ask(message: { path?: string; socketsOf?: string; maxBytes: number }, handlers: Pick<PendingRead, 'onText' | 'onInodes'>, limits: ReadLimits): Promise<void> {
    if (limits.signal?.aborted) return Promise.reject(interruptedError());
    const worker = this.ensureWorker();
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const id = this.nextId++;
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => this.fail(id, interruptedError());
      limits.signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => limits.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        ...handlers,
        resolve: () => (done(), resolve()),
        reject: (error) => (done(), reject(error)),
        maxBytes: limits.maxBytes,
        cancel,
      });
      worker.postMessage({ id, ...message, cancel });
      if (this.pending.size === 1) worker.ref(); // while a read is under way, wait for it
    });
  }

  /** Ends a read early: the worker stops at its next chunk, and what it still sends is dropped. */
  private fail(id: number, error: Error): void {
    const read = this.pending.get(id);
    if (!read) return;
    Atomics.store(read.cancel, 0, 1);
    this.settle(id);
    read.reject(error);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    // No execArgv: loaders the main thread runs under (tsx) have nothing to do here.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    worker.on('message', (message: WorkerMessage) => this.receive(message));
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const read of this.pending.values()) read.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`file reader thread exited (${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private receive(message: WorkerMessage): void {
    const read = this.pending.get(message.id);
    if (!read) return; // a read already failed in its consumer: the rest of its text is dropped
    if ('text' in message) {
      try {
        read.onText(message.text);
      } catch (error) {
        this.fail(message.id, error as Error);
      }
      return;
    }
    this.settle(message.id);
    if ('inodes' in message) {
      const found: SocketInodes = { inodes: new Float64Array(message.inodes, 0, message.count), unreadLinks: message.unread };
      if (message.unreadCode !== undefined) found.unreadCode = message.unreadCode;
      read.onInodes?.(found);
      read.resolve();
    } else if ('done' in message) read.resolve();
    else if ('tooLarge' in message) read.reject(readLimitError('larger than', read.maxBytes));
    else if ('notFile' in message) read.reject(notFileError(message.notFile));
    else read.reject(Object.assign(new Error(message.error.message), message.error.code ? { code: message.error.code } : {}));
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size > 0 || !this.worker) return;
    const worker = this.worker;
    worker.unref();
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.worker !== worker || this.pending.size > 0) return;
      this.worker = undefined;
      void worker.terminate();
    }, this.idleMs);
    this.idleTimer.unref();
  }
}

/**
 * WorkerFileReader.readSocketInodes on this thread: the same walk as the worker's, in slices. The
 * directory is read a batch of entries at a time (opendir), not listed whole first: a process
 * holding 100,000 sockets has 100,000 names, a list of which (and libuv's copy of it, in malloc)
 * stood under the walk's peak (watch's first poll asks for every connection's owner; issue 15).
 */
async function readSocketInodesHere(dir: string, signal: AbortSignal | undefined): Promise<SocketInodes> {
  if (signal?.aborted) throw interruptedError();
  let entries: Dir;
  try {
    entries = await opendir(dir, { bufferSize: DIRECTORY_BATCH });
  } catch (error) {
    throw signal?.aborted ? interruptedError() : error;
  }
  let inodes = new Float64Array(DIRECTORY_BATCH);
  let count = 0;
  const found: SocketInodes = { inodes, unreadLinks: 0 };
  try {
    for (let i = 1; ; i++) {
      if (i % LINKS_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      if (signal?.aborted) throw interruptedError();
      const entry = entries.readSync();
      if (entry === null) break;
      let link: string;
      try {
        link = readlinkSync(`${dir}/${entry.name}`);
      } catch (error) {
        // Closed since the listing, or not a link: no socket. Else unknown (LINK_ERRORS_NO_SOCKET).
        const code = (error as NodeJS.ErrnoException).code;
        if (!LINK_ERRORS_NO_SOCKET.includes(code ?? '')) {
          found.unreadLinks++;
          found.unreadCode ??= code ?? 'EIO';
        }
        continue;
      }
      const match = SOCKET_LINK.exec(link);
      if (!match) continue;
      if (count === inodes.length) {
        const grown = new Float64Array(inodes.length * 2);
        grown.set(inodes);
        inodes = grown;
      }
      inodes[count++] = Number(match[1]);
    }
  } finally {
    entries.closeSync();
  }
  found.inodes = inodes.subarray(0, count);
  return found;
}
