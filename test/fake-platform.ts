import type { BinaryCommandResult, CommandResult, CommandSession, Platform, RunOptions, SocketInodes } from '../src/platform/platform.js';
import { LINK_ERRORS_NO_SOCKET } from '../src/platform/file-lines.js';
import { forEachLine } from '../src/core/text-lines.js';
import type { CliContext } from '../src/cli/context.js';
import { readFixture } from './fixture.js';

const EMPTY_REQUEST_TABLES = new Map([
  ['/proc/net/tcp', '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'],
  ['/proc/net/tcp6', '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'],
]);

/** A Platform whose commands and files answer from fixtures, on a clock the test moves. */
export class FakePlatform implements Platform {
  nowValue = Date.parse('2026-11-21T05:30:00Z');
  readonly littleEndian = true;
  /** Opens no kernel socket: the netlink source is unavailable unless a test injects its channel. */
  kernelSockets = false;
  os = 'linux';
  /** Answers in turn (the last one repeats); bytes for Windows tools' code-page output. */
  commands: ((argv: readonly string[]) => CommandResult | BinaryCommandResult | Error)[] = [];
  files = new Map<string, string | Uint8Array | Error>();
  modified = new Map<string, number>();
  /** Answers of long-lived sessions, in turn; none means the program is missing. */
  sessionAnswers: ((input: string) => string | Error)[] = [];
  sessionInputs: string[] = [];
  sessionsOpened: string[][] = [];
  sessionsClosed = 0;
  /** Symbolic links; `/proc/self/ns/net` is there as on any Linux host. */
  links = new Map<string, string>([['/proc/self/ns/net', 'net:[4026531840]']]);
  /** Links whose readlink fails with this error (EACCES, EIO…) instead of answering. */
  linkErrors = new Map<string, Error>();
  /** Directories that answer EACCES, like another user's /proc/<pid>/fd. */
  deniedDirectories = new Set<string>();
  ran: string[][] = [];
  /**
   * This process's own /proc/net/tcp{,6}, where a test sets none, read as the kernel's empty tables
   * (a header only): the request sockets of an ss or netlink capture are then not found there (their
   * handshakes completed since), as before their ages were checked. A test of those ages sets the
   * files, or clears this to have them missing (ENOENT).
   */
  requestTablesEmpty = true;
  /** Every directory listed, in order (to count /proc scans). */
  listed: string[] = [];

  nowMs(): number {
    return this.nowValue;
  }

  /** Trees taken as the kernel's procfs (isProcfs): /proc and below by default; a test of a copied tree clears it or sets others. */
  procfsRoots = new Set(['/proc']);
  async isProcfs(path: string): Promise<boolean> {
    return [...this.procfsRoots].some((root) => path === root || path.startsWith(`${root}/`));
  }

  /** The environment each command was given (run options), in order. */
  ranEnv: (Readonly<Record<string, string>> | undefined)[] = [];
  /** What each command was given on stdin. */
  ranInput: (string | undefined)[] = [];

  async run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    this.ranEnv.push(options.env);
    this.ranInput.push(options.input);
    const result = this.answer(argv);
    return { ...result, stdout: typeof result.stdout === 'string' ? result.stdout : Buffer.from(result.stdout).toString('utf8') };
  }

  async runBinary(argv: readonly string[], options: RunOptions = {}): Promise<BinaryCommandResult> {
    this.ranEnv.push(options.env);
    const result = this.answer(argv);
    return { ...result, stdout: typeof result.stdout === 'string' ? Buffer.from(result.stdout, 'utf8') : result.stdout };
  }

  async runLines(argv: readonly string[], onLine: (line: string) => void, options: RunOptions = {}): Promise<{ stderr: string; exitCode: number }> {
    const result = await this.run(argv, options);
    forEachLine(result.stdout, onLine);
    return { stderr: result.stderr, exitCode: result.exitCode };
  }

  private answer(argv: readonly string[]): CommandResult | BinaryCommandResult {
    this.ran.push([...argv]);
    const answer = this.commands.length > 1 ? this.commands.shift()! : this.commands[0];
    if (!answer) throw Object.assign(new Error(`spawn ${argv[0]} ENOENT`), { code: 'ENOENT' });
    const result = answer(argv);
    if (result instanceof Error) throw result;
    return result;
  }

  openSession(argv: readonly string[]): CommandSession {
    this.sessionsOpened.push([...argv]);
    return {
      exchange: async (input) => {
        this.sessionInputs.push(input);
        const answer = this.sessionAnswers.length > 1 ? this.sessionAnswers.shift()! : this.sessionAnswers[0];
        if (!answer) throw Object.assign(new Error(`spawn ${argv[0]} ENOENT`), { code: 'ENOENT' });
        const result = answer(input);
        if (result instanceof Error) throw result;
        return result;
      },
      close: () => {
        this.sessionsClosed++;
      },
    };
  }

  /** Every file read as text or lines, in order. */
  readPaths: string[] = [];

  async readText(path: string): Promise<string> {
    this.readPaths.push(path);
    const value = await this.readBytesOrText(path);
    return typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
  }

  /** Line by line through the real splitter, from the whole text at once. */
  async readLines(path: string, onLine: (line: string) => void): Promise<void> {
    forEachLine(await this.readText(path), onLine);
  }

  async readBytes(path: string): Promise<Uint8Array> {
    const value = await this.readBytesOrText(path);
    return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  }

  private async readBytesOrText(path: string): Promise<string | Uint8Array> {
    const value = this.files.get(path) ?? (this.requestTablesEmpty ? EMPTY_REQUEST_TABLES.get(path) : undefined);
    if (value === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    if (value instanceof Error) throw value;
    return value;
  }

  async modifiedMs(path: string): Promise<number> {
    await this.readBytesOrText(path);
    return this.modified.get(path) ?? this.nowValue;
  }

  async listDirectory(path: string): Promise<string[]> {
    this.listed.push(path);
    if (this.deniedDirectories.has(path)) throw Object.assign(new Error(`EACCES: ${path}`), { code: 'EACCES' });
    const prefix = path.endsWith('/') ? path : `${path}/`;
    const names = new Set<string>();
    for (const key of [...this.files.keys(), ...this.links.keys()]) {
      if (key.startsWith(prefix)) names.add(key.slice(prefix.length).split('/')[0]!);
    }
    if (names.size === 0) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return [...names];
  }

  /** Puts these processes in this process's network namespace (the owner lookup lists only such processes' fds). */
  inOwnNetns(...pids: number[]): void {
    for (const pid of pids) this.links.set(`/proc/${pid}/ns/net`, this.links.get('/proc/self/ns/net')!);
  }

  /** As the real one: a link in linkErrors is left out, and counted as unread unless its error proves no socket (ENOENT, EINVAL). */
  async readSocketInodes(dir: string): Promise<SocketInodes> {
    const names = await this.listDirectory(dir);
    const found: SocketInodes = { inodes: new Float64Array(0), unreadLinks: 0 };
    const inodes = names.flatMap((name) => {
      const failure = this.linkErrors.get(`${dir}/${name}`) as NodeJS.ErrnoException | undefined;
      if (failure) {
        if (!LINK_ERRORS_NO_SOCKET.includes(failure.code ?? '')) {
          found.unreadLinks++;
          found.unreadCode ??= failure.code;
        }
        return [];
      }
      const match = /^socket:\[(\d+)\]$/.exec(this.links.get(`${dir}/${name}`) ?? '');
      return match ? [Number(match[1])] : [];
    });
    found.inodes = Float64Array.from(inodes);
    return found;
  }

  async readLink(path: string): Promise<string> {
    const failure = this.linkErrors.get(path);
    if (failure) throw failure;
    const link = this.links.get(path);
    if (link === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return link;
  }
}

export function ssAnswers(stdout: string): (argv: readonly string[]) => CommandResult {
  return () => ({ stdout, stderr: '', exitCode: 0 });
}

/**
 * A host holding the sessions scripts/park-sockets.py parks, as in its capture
 * linux-ss-tanoie-park-sockets-kernel6.txt: up an hour, `ss` answering that capture, and python3
 * (pid 4242) holding the three CLOSE_WAIT sockets (inodes 6731, 6734, 6737) and the listener on
 * 47537 (6730). A test replaces `commands` to answer something else.
 */
export function parkSocketsHost(): FakePlatform {
  const platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
  platform.commands = [ssAnswers(readFixture('linux-ss-tanoie-park-sockets-kernel6.txt'))];
  for (const [fd, inode] of [
    [3, 6731],
    [4, 6734],
    [5, 6737],
    [6, 6730],
  ] as const)
    platform.links.set(`/proc/4242/fd/${fd}`, `socket:[${inode}]`);
  platform.files.set('/proc/4242/comm', 'python3\n');
  platform.inOwnNetns(4242);
  return platform;
}

export interface CapturedContext extends CliContext {
  out: () => string;
  err: () => string;
  /** Delivers a SIGHUP to what the command registered. */
  hangup: () => void;
}

export function fakeContext(platform: FakePlatform, env: NodeJS.ProcessEnv = {}, interrupt = new AbortController().signal): CapturedContext {
  let out = '';
  let err = '';
  const hangupListeners = new Set<() => void>();
  return {
    platform,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env,
    // Sleeping moves the fake clock: no real waiting in tests.
    sleep: async (ms: number) => {
      platform.nowValue += ms;
    },
    interrupt,
    onHangup: (listener: () => void) => {
      hangupListeners.add(listener);
      return () => hangupListeners.delete(listener);
    },
    hangup: () => hangupListeners.forEach((listener) => listener()),
    out: () => out,
    err: () => err,
  };
}

/** Runs the CLI on `platform` with a captured context: exit code, stdout and stderr. */
export async function runOn(platform: FakePlatform, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const { runCli } = await import('../src/cli/run.js');
  const context = fakeContext(platform, env);
  const code = await runCli(argv, context, '0.1.0');
  return { code, out: context.out(), err: context.err() };
}
