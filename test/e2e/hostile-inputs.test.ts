import { execFileSync, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './parked-namespace.js';

// Issue 13.3 and 13.5 against the built CLI (dist/cli/main.js) as an operator runs it: inputs
// that never end, commands that hang or stream forever, real SIGTERM/SIGINT, waits too long for
// a timer. Time bounds are loose (seconds): the machine may be busy.

let dir: string;
let bin: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tcpdwell-inputs-e2e-'));
  bin = join(dir, 'bin');
  await mkdir(bin);
  execFileSync('mkfifo', [join(dir, 'fifo')]);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI; `signal` is sent `afterMs` after start, or once `when` resolves. PATH starts with the fake-program directory. */
function runCli(args: string[], options: { signal?: NodeJS.Signals; afterMs?: number; when?: Promise<unknown> } = {}): Promise<Finished> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = options.signal && !options.when ? setTimeout(() => child.kill(options.signal), options.afterMs ?? 1000) : undefined;
    void options.when?.then(() => child.kill(options.signal));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Puts a fake `ss` (a shell script written for the test) first on PATH. */
async function fakeSs(script: string): Promise<void> {
  await writeFile(join(bin, 'ss'), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\S+ \(.*\) Z/.test(execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

describe('files that never end', () => {
  it.each([
    ['/dev/zero', 'is a character device, not a regular file'],
    ['FIFO', 'is a FIFO, not a regular file'],
  ])('list --input %s: one line, exit 66, at once', async (name, reason) => {
    const path = name === 'FIFO' ? join(dir, 'fifo') : name;
    const result = await runCli(['list', '--input', path]);
    expect(result.code).toBe(66);
    expect(result.stderr).toBe(`tcpdwell: cannot read ${path}: ${reason}; tcpdwell reads regular files only\n`);
    expect(result.ms).toBeLessThan(10_000);
  });

  it('--config FIFO and /dev/zero: exit 78; a capture past --read-limit: exit 66 with the limit named', async () => {
    const fifo = await runCli(['check', '--config', join(dir, 'fifo'), '--input', '/dev/null']);
    expect(fifo.code).toBe(78);
    expect(fifo.stderr).toContain('is a FIFO, not a regular file');
    expect((await runCli(['list', '--config', '/dev/zero'])).code).toBe(78);
    const big = join(dir, 'big.txt');
    await writeFile(big, `${'x'.repeat(99)}\n`.repeat(20_000)); // 2 MB
    const capped = await runCli(['list', '--input', big, '--read-limit', '1M']);
    expect(capped.code).toBe(66);
    expect(capped.stderr).toBe(`tcpdwell: cannot read ${big}: larger than the read limit of 1 MiB (--read-limit raises it)\n`);
  });
});

describe('commands that never end', () => {
  it('a fake ss that streams forever is stopped at --read-limit: exit 3, the limit named', async () => {
    await fakeSs('exec yes "ESTAB 0 0 127.0.0.1:1 127.0.0.1:2"');
    const result = await runCli(['list', '--source', 'ss', '--read-limit', '4M']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('ss printed more than the read limit of 4 MiB (--read-limit raises it)');
    expect(result.ms).toBeLessThan(15_000);
  }, 20_000);

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s ends a one-shot list whose ss hangs (ignoring signals, with a child) within seconds, and kills them',
    async (signal) => {
      const pidFile = join(dir, `ss-${signal}.pids`);
      await fakeSs(`trap '' TERM INT\nsleep 1000 & echo $! > ${pidFile}\necho $$ >> ${pidFile}\nsleep 1001`);
      // The signal goes once the fake ss has written both pids: the CLI is then running its poll,
      // with its handlers in place, however slowly a loaded machine started it.
      let signalledAt = 0;
      const ssRunning = (async () => {
        for (;;) {
          const text = await readFile(pidFile, 'utf8').catch(() => '');
          if (text.trim().split('\n').length >= 2) break;
          await delay(50);
        }
        await delay(200);
        signalledAt = Date.now();
      })();
      const started = Date.now();
      const result = await runCli(['list', '--source', 'ss'], { signal, when: ssRunning });
      expect(started + result.ms - signalledAt).toBeLessThan(4000);
      expect(result.stderr).toContain('ss failed: interrupted');
      expect(result.code).toBe(3);
      const pids = execFileSync('cat', [pidFile], { encoding: 'utf8' }).trim().split('\n').map(Number);
      expect(pids).toHaveLength(2);
      await delay(300);
      expect(pids.filter(alive)).toEqual([]);
    },
    20_000,
  );
});

describe('webhook retries under SIGTERM', () => {
  let server: Server;
  let requests = 0;
  let firstRequest: () => void;
  const requested = new Promise<void>((resolve) => (firstRequest = resolve));
  beforeAll(async () => {
    server = createServer((request, response) => {
      requests++;
      firstRequest();
      request.resume();
      response.writeHead(503).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('check stops retrying at once: exit 75 (undelivered, said so), not after the back-off', async () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const config = join(dir, 'notify.yaml');
    await writeFile(config, `notify:\n  - { type: webhook, url: "http://127.0.0.1:${port}/hook", retries: 10 }\n`);
    // The German netstat -ano capture twice, 90 s apart: its CLOSE_WAITs are flagged, so check notifies.
    const capture = join(dir, 'capture.txt');
    await copyFile(new URL('../fixtures/win-netstat-ano-de-DE-CRWinNetDiag-output.txt', import.meta.url), capture);
    const result = await runCli(['check', '--config', config, '--input', capture, capture, '--at', '2026-11-20T10:00:00Z,2026-11-20T10:01:30Z'], {
      signal: 'SIGTERM',
      when: requested.then(() => delay(1500)),
    });
    // Signalled in the back-off after the second attempt (1 s, then 2 s); without the interrupt the
    // back-off goes on: 2+4+…+512 s.
    expect(result.ms).toBeLessThan(15_000);
    // 1 or 2 attempts, as the machine's load decides when the signal lands; never the 11 configured.
    expect([1, 2]).toContain(requests);
    expect(result.code).toBe(75);
    expect(result.stderr).toMatch(
      /notifier webhook http:\/\/127\.0\.0\.1:\d+ failed: interrupted (after [12] attempts?|during attempt [12]); 3 notifications not delivered \(no state file to keep them in\)/,
    );
    // --input keeps no state file: stderr no longer claims the next run sends them again (issue 16.3).
  }, 20_000);
});

describe('waits too long for a timer', () => {
  it.each([
    [['list', '--watch', '25d'], '--watch'],
    [['watch', '--interval', '25d'], '--interval'],
    [['check', '--window', '25d'], '--window'],
  ])('%j is refused (exit 64), not run as a 1 ms loop', async (args, flag) => {
    const result = await runCli(args);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain(flag);
    expect(result.stderr).toContain('is too long: a wait can be at most 24 days');
  });
});
