import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ExitCode, exitCodeForError } from '../../src/cli/exit-codes.js';
import { ListenError, OutputFileError, errnoDetail, errnoWords, errorCode } from '../../src/platform/errors.js';
import { codedError } from '../../src/platform/limits.js';
import { ConntrackSource } from '../../src/sources/linux/conntrack.js';
import { SourceError, SourceUnavailableError } from '../../src/sources/source.js';
import { openEventLog } from '../../src/cli/event-log.js';
import { FakePlatform, fakeContext } from '../fake-platform.js';

/** The error a real system call gives (so the shapes are Node's, not written by hand). */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('errnoWords: one helper for the errno codes users see', () => {
  it('gives the words of a known code, without the code, the call or the path Node repeats', async () => {
    const missing = await failureOf(open('/nonexistent-dir-of-tcpdwell/x', 'r'));
    expect((missing as Error).message).toContain("open '/nonexistent-dir-of-tcpdwell/x'");
    expect(errorCode(missing)).toBe('ENOENT');
    expect(errnoWords(missing)).toBe('no such file');
    expect(errnoDetail(missing)).toBe('ENOENT: no such file');
    const directory = await failureOf(open('/', 'a'));
    expect(errnoWords(directory)).toBe('is a directory');
  });

  it('lets the context name a code better: an event log opened with O_CREAT lacks its directory', async () => {
    const missing = await failureOf(open('/nonexistent-dir-of-tcpdwell/x', 'a'));
    expect(errnoWords(missing, { ENOENT: 'no such directory' })).toBe('no such directory');
    expect(errnoWords(Object.assign(new Error('EACCES: permission denied, open'), { code: 'EACCES', syscall: 'open' }), { ENOENT: 'no such directory' })).toBe('permission denied');
  });

  it('a taken port is "address already in use"', async () => {
    const first = createServer();
    await new Promise<void>((resolve) => first.listen(0, '127.0.0.1', resolve));
    const { port } = first.address() as { port: number };
    const second = createServer();
    const error = await new Promise<unknown>((resolve) => second.once('error', resolve).listen(port, '127.0.0.1'));
    first.close();
    expect(errorCode(error)).toBe('EADDRINUSE');
    expect(errnoWords(error)).toBe('address already in use');
  });

  it("an unknown system code keeps Node's words less its decoration; our coded errors keep their message", () => {
    // Shape of a Node system error (written for the test): "CODE: words, syscall 'path'".
    const busy = Object.assign(new Error("ETXTBSY: text file is busy, open '/usr/bin/x'"), { code: 'ETXTBSY', syscall: 'open', path: '/usr/bin/x' });
    expect(errnoWords(busy)).toBe('text file is busy');
    expect(errnoDetail(busy)).toBe('ETXTBSY: text file is busy');
    const tooBig = codedError('EFBIG', 'larger than the read limit of 1 MiB, check it');
    expect(errnoWords(tooBig)).toBe('larger than the read limit of 1 MiB, check it');
    expect(errnoWords('plain text')).toBe('plain text');
  });
});

describe('runtime conditions are not usage errors', () => {
  it('a server that cannot listen exits EX_UNAVAILABLE (69); a log that cannot be opened EX_CANTCREAT (73)', () => {
    const cause = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    const listen = new ListenError('cannot listen on 127.0.0.1:9 : address already in use', { cause });
    expect(listen.cause).toBe(cause);
    expect(exitCodeForError(listen)).toBe(ExitCode.UNAVAILABLE);
    expect(ExitCode.UNAVAILABLE).toBe(69);
    expect(exitCodeForError(new OutputFileError('cannot open log file /x: permission denied'))).toBe(73);
    expect(exitCodeForError(new OutputFileError('x'))).not.toBe(ExitCode.USAGE);
  });
});

describe('wrapped errors keep their cause', () => {
  it('a source that cannot be read, an event log that cannot be opened: the errno error is the cause', async () => {
    const platform = new FakePlatform();
    const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    platform.files.set('/proc/net/nf_conntrack', denied);
    const conntrack = await failureOf(new ConntrackSource().read(platform, { procRoot: '/proc' }));
    expect(conntrack).toBeInstanceOf(SourceError);
    expect((conntrack as Error).message).toBe('cannot read /proc/net/nf_conntrack: permission denied (run as root)');
    expect((conntrack as Error).cause).toBe(denied);

    const missing = await failureOf(new ConntrackSource().read(new FakePlatform(), { procRoot: '/proc' }));
    expect(missing).toBeInstanceOf(SourceUnavailableError);
    expect(errorCode((missing as Error).cause)).toBe('ENOENT');

    const log = await failureOf(openEventLog('/nonexistent-dir-of-tcpdwell/events.jsonl', fakeContext(new FakePlatform())));
    expect(log).toBeInstanceOf(OutputFileError);
    expect(errorCode((log as Error).cause)).toBe('ENOENT');
  });
});
