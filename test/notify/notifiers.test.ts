import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alertMessage, deliver } from '../../src/notify/notifiers.js';
import { nodePlatform } from '../../src/platform/platform.js';
import type { AlertNotification } from '../../src/core/alerts.js';
import { warnSkip, whyNoProgram, whyNoPrograms } from '../needs-program.js';

// The notifiers against real peers: a script that records its stdin, and a local HTTP server.

const NOTIFICATION: AlertNotification = {
  change: 'flagged',
  key: 'tcp 10.0.0.1 5432 10.0.0.9 40100',
  kind: 'half-close',
  severity: 'warning',
  subject: 'CLOSE_WAIT 10.0.0.1:5432 -> 10.0.0.9:40100',
  firstFlaggedMs: Date.parse('2026-11-21T05:30:00Z'),
  current: { key: 'tcp 10.0.0.1 5432 10.0.0.9 40100', kind: 'half-close', severity: 'warning', subject: 'CLOSE_WAIT 10.0.0.1:5432 -> 10.0.0.9:40100', measured: 95, threshold: 30, rule: 'default' },
};
const NO_LOGGER = whyNoPrograms(['logger', 'bsdutils'], ['python3', 'python3']);
const NO_OPENSSL = whyNoProgram('openssl', 'openssl', 'version');
warnSkip('the real logger(1) test', NO_LOGGER);
warnSkip('the TLS refusal test', NO_OPENSSL);
const MESSAGE = alertMessage('warning', 'ss', Date.parse('2026-11-21T05:31:00Z'), [NOTIFICATION]);
const waits: number[] = [];
const deps = { platform: nodePlatform(), sleep: async (ms: number) => void waits.push(ms) };

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
  waits.length = 0;
});

/** A local HTTP server answering each request with the next status; resolves with its URL. */
async function serve(statuses: number[], received: { body: string; headers: IncomingMessage['headers'] }[], delayMs = 0): Promise<string> {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ body, headers: request.headers });
      setTimeout(() => response.writeHead(statuses.shift() ?? 200).end(), delayMs);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
}

describe('exec notifier', () => {
  it('runs the argv with the alert JSON on stdin (a real script records it); a failing one is reported, not thrown', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tcpdwell-exec-'));
    const script = join(dir, 'record.sh');
    await writeFile(script, '#!/bin/sh\ncat > "$1"\necho "args: $2" >> "$1.args"\n');
    await chmod(script, 0o755);
    const out = join(dir, 'stdin.json');
    const [ok] = await deliver(MESSAGE, [{ type: 'exec', command: [script, out, 'it is one argument; not a shell'] }], deps);
    expect(ok).toEqual({ notifier: `exec ${script}`, ok: true });
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(JSON.parse(JSON.stringify(MESSAGE)));
    expect(await readFile(`${out}.args`, 'utf8')).toBe('args: it is one argument; not a shell\n');

    const [failed, missing] = await deliver(
      MESSAGE,
      [
        { type: 'exec', command: ['sh', '-c', 'echo broken >&2; exit 3'] },
        { type: 'exec', command: [join(dir, 'nope')] },
      ],
      deps,
    );
    expect(failed).toEqual({ notifier: 'exec sh', ok: false, error: 'sh exited with 3: broken' });
    expect(missing).toMatchObject({ ok: false, error: `${join(dir, 'nope')}: no such program` });
  });
});

describe('syslog notifier', () => {
  it.skipIf(NO_LOGGER !== undefined)('real logger(1) writes one key=value line per notification to the socket it is given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tcpdwell-syslog-'));
    const socketPath = join(dir, 'log.sock');
    // A one-datagram syslog receiver on a Unix socket.
    const receiver = spawn('python3', [
      '-c',
      'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("ready",flush=True)\nprint(s.recv(65536).decode(),flush=True)',
      socketPath,
    ]);
    let output = '';
    receiver.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // Listened for before delivering: the receiver may exit while deliver() is still awaited.
    const exited = new Promise<void>((resolve) => receiver.once('close', () => resolve()));
    await new Promise<void>((resolve) => receiver.stdout.once('data', () => resolve()));
    const [result] = await deliver(MESSAGE, [{ type: 'syslog', facility: 'local3', socket: socketPath }], deps);
    await exited;
    expect(result).toEqual({ notifier: 'syslog', ok: true });
    // <PRI> = local3 (19) × 8 + warning (4) = 156, then the tag and our line.
    expect(output).toMatch(
      /^ready\n<156>.*tcpdwell: change=flagged kind=half-close severity=warning subject="CLOSE_WAIT 10\.0\.0\.1:5432 -> 10\.0\.0\.9:40100" measured=95 threshold=30 rule=default first_flagged=2026-11-21T05:30:00\.000Z status=warning source=ss\n$/,
    );
  });
});

describe('webhook notifier', () => {
  it('POSTs the JSON with its headers; retries 5xx with doubling back-off until it is accepted', async () => {
    const received: { body: string; headers: IncomingMessage['headers'] }[] = [];
    const url = await serve([503, 502, 200], received);
    const [result] = await deliver(MESSAGE, [{ type: 'webhook', url, headers: { authorization: 'Bearer t0ken' } }], deps);
    expect(result).toEqual({ notifier: `webhook ${new URL(url).origin}`, ok: true });
    expect(received).toHaveLength(3);
    expect(JSON.parse(received[0]!.body)).toEqual(JSON.parse(JSON.stringify(MESSAGE)));
    expect(received[0]!.headers).toMatchObject({ 'content-type': 'application/json', authorization: 'Bearer t0ken' });
    expect(waits).toEqual([1000, 2000]);
  });

  it('gives up after its retries, does not retry a 4xx, and times out a silent server', async () => {
    const received: { body: string; headers: IncomingMessage['headers'] }[] = [];
    const url = await serve([500, 500, 404], received);
    const [exhausted] = await deliver(MESSAGE, [{ type: 'webhook', url, retries: 1 }], deps);
    expect(exhausted).toMatchObject({ ok: false, error: 'HTTP 500 after 2 attempts' });
    const [notFound] = await deliver(MESSAGE, [{ type: 'webhook', url, retries: 3 }], deps);
    expect(notFound).toMatchObject({ ok: false, error: 'HTTP 404 after 4 attempts' });
    expect(received).toHaveLength(3);
    server!.close();

    const slow = await serve([200], [], 2000);
    const [timedOut] = await deliver(MESSAGE, [{ type: 'webhook', url: slow, retries: 0, timeout: 200 }], deps);
    expect(timedOut).toMatchObject({ ok: false, error: 'timed out after 1 attempt' });
  });

  it.skipIf(NO_OPENSSL !== undefined)('verifies TLS: an HTTPS server with a self-signed certificate is refused, and never receives the alert', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tcpdwell-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], {
      stdio: 'ignore',
    });
    let requests = 0;
    const tls = createHttpsServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, (_request, response) => {
      requests++;
      response.end();
    });
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    try {
      const port = (tls.address() as { port: number }).port;
      const [result] = await deliver(MESSAGE, [{ type: 'webhook', url: `https://127.0.0.1:${port}/hook`, retries: 0, timeout: 5000 }], deps);
      expect(result).toMatchObject({ ok: false, error: 'DEPTH_ZERO_SELF_SIGNED_CERT after 1 attempt' });
      expect(requests).toBe(0);
    } finally {
      tls.close();
    }
  });

  it('reads at most 64 KiB of a response that floods its body, then drops the connection', async () => {
    let written = 0;
    let closed = false;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    server = createServer((request, response) => {
      request.resume();
      response.writeHead(200, { 'content-type': 'text/plain' });
      // A body that never ends, written as fast as the client takes it.
      const pump = () => {
        while (!closed && response.write(chunk)) written += chunk.length;
        if (!closed) written += chunk.length;
      };
      response.on('drain', pump);
      response.on('close', () => (closed = true));
      pump();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/flood`;
    const started = Date.now();
    const [delivery] = await deliver(MESSAGE, [{ type: 'webhook', url, timeout: 20_000 }], deps);
    expect(delivery).toEqual({ notifier: 'webhook http://127.0.0.1:' + new URL(url).port, ok: true });
    expect(Date.now() - started).toBeLessThan(5000);
    for (let i = 0; i < 40 && !closed; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(true);
    // What the kernel's socket buffers held, not gigabytes.
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('SIGINT/SIGTERM (the interrupt) ends a request under way and the retries still to come', async () => {
    const received: { body: string; headers: IncomingMessage['headers'] }[] = [];
    const url = await serve([], received, 60_000); // answers after a minute
    const interrupt = new AbortController();
    const sleeps: number[] = [];
    const delivering = deliver(MESSAGE, [{ type: 'webhook', url, retries: 10, timeout: 30_000 }], { ...deps, sleep: async (ms: number) => void sleeps.push(ms), interrupt: interrupt.signal });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    interrupt.abort();
    const [delivery] = await delivering;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(delivery).toMatchObject({ ok: false, error: 'interrupted during attempt 1' });
    expect(received).toHaveLength(1);
    expect(sleeps).toEqual([]);
    server?.closeAllConnections();
  });

  it('one failing notifier does not stop the others', async () => {
    const received: { body: string; headers: IncomingMessage['headers'] }[] = [];
    const url = await serve([200], received);
    const results = await deliver(
      MESSAGE,
      [
        { type: 'exec', command: ['false'] },
        { type: 'webhook', url },
      ],
      deps,
    );
    expect(results.map((r) => r.ok)).toEqual([false, true]);
    expect(received).toHaveLength(1);
  });
});
