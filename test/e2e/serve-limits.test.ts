import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORTER_LIMITS } from '../../src/platform/metrics-server.js';
import { CLI, EMPTY_PROC_NET_TCP6 } from './parked-namespace.js';

// The built exporter on 127.0.0.1 against a local user holding many idle connections (a bounded
// 400 here, ~6 times the cap) and a slowloris: /metrics must still answer, the idle ones must be
// shed, and SIGTERM must end it at once even while they are open. The socket table is a procfs
// tree written for the test (--source procfs --proc-root), so nothing of this host is read.

const IDLE = 400;
const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-serve-limits-'));
let child: ChildProcessWithoutNullStreams;
let port = 0;
const idle: Socket[] = [];
let closedByServer = 0;

function scrape(): Promise<{ status: number; body: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port, path: '/metrics', agent: false, timeout: 4_000 }, (response) => {
      let body = '';
      response.on('data', (d: Buffer) => (body += d.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, ms: Date.now() - started }));
    });
    request.on('timeout', () => request.destroy(new Error('scrape timed out')));
    request.on('error', reject);
  });
}

function openIdle(): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.once('close', () => closedByServer++);
    socket.once('connect', () => resolve(socket));
    socket.once('close', () => resolve(socket));
  });
}

describe.skipIf(process.platform !== 'linux')('serve under many idle connections', () => {
  beforeAll(async () => {
    mkdirSync(join(dir, 'proc', 'net'), { recursive: true });
    // Written for the test: one /proc/net/tcp LISTEN row.
    writeFileSync(
      join(dir, 'proc', 'net', 'tcp'),
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n',
    );
    writeFileSync(join(dir, 'proc', 'net', 'tcp6'), EMPTY_PROC_NET_TCP6);
    child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--interval', '1s', '--source', 'procfs', '--proc-root', join(dir, 'proc')]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    for (let i = 0; i < 100 && !port; i++) {
      port = Number(/serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr)?.[1] ?? 0);
      await delay(100);
    }
    expect(port).toBeGreaterThan(0);
  }, 20_000);

  afterAll(() => {
    idle.forEach((s) => s.destroy());
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`holds at most ${EXPORTER_LIMITS.MAX_CONNECTIONS} connections, and /metrics answers at once while ${IDLE} idle ones keep coming`, async () => {
    for (let i = 0; i < IDLE; i++) idle.push(await openIdle());
    await delay(300);
    const stillOpen = idle.filter((s) => !s.destroyed && s.readyState === 'open').length;
    expect(stillOpen).toBeLessThanOrEqual(EXPORTER_LIMITS.MAX_CONNECTIONS);
    expect(closedByServer).toBeGreaterThanOrEqual(IDLE - EXPORTER_LIMITS.MAX_CONNECTIONS);
    const scraped = await scrape();
    expect(scraped.status).toBe(200);
    expect(scraped.body).toContain('tcpdwell_connections{state="LISTEN"} 1');
    expect(scraped.ms).toBeLessThan(2_000);
  }, 30_000);

  it('a slowloris (headers never finished) is cut off after the headers timeout', async () => {
    const slow = await openIdle();
    slow.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const started = Date.now();
    const trickle = setInterval(() => slow.write('X-A: b\r\n'), 500);
    await new Promise((resolve) => slow.once('close', resolve));
    clearInterval(trickle);
    // Checked every second (connectionsCheckingInterval), so within the timeout and a second or so.
    expect(Date.now() - started).toBeLessThan(EXPORTER_LIMITS.HEADERS_TIMEOUT_MS + 2_500);
  }, 20_000);

  it('SIGTERM ends it promptly with idle keep-alive connections open', async () => {
    // Fresh idle keep-alives: a finished request each, connection left open.
    for (let i = 0; i < 20; i++) {
      const s = await openIdle();
      s.write(`GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`);
      idle.push(s);
    }
    await delay(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const started = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(2_000);
  }, 20_000);
});
