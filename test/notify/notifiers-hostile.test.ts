import { mkdtemp } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AlertNotification } from '../../src/core/alerts.js';
import { alertMessage, deliver, syslogLine } from '../../src/notify/notifiers.js';
import { nodePlatform } from '../../src/platform/platform.js';
import { warnSkip, whyNoProgram, whyNoPrograms } from '../needs-program.js';

// Hostile text on its way to the notifiers (issue 13, items 2 and 9). A count group is a process
// name and a rule name a config value: both reach syslog and the exec/webhook payloads. Written for the test.

const SUBJECT = '9 CLOSE_WAIT for process a\n<11>Nov 30 forged: x\r\x1b[2J\u009b\x7f\u2028';
const NOTIFICATION: AlertNotification = {
  change: 'flagged',
  key: 'count leak',
  kind: 'count',
  severity: 'critical',
  subject: SUBJECT,
  firstFlaggedMs: Date.parse('2026-11-21T05:30:00Z'),
  current: { key: 'count leak', kind: 'count', severity: 'critical', subject: SUBJECT, measured: 9, threshold: 5, rule: 'leak\u202e' },
};
const NO_LOGGER = whyNoPrograms(['logger', 'bsdutils'], ['python3', 'python3']);
const NO_PYTHON = whyNoProgram('python3', 'python3');
warnSkip('the real logger(1) test', NO_LOGGER);
warnSkip('the exec payload test', NO_PYTHON);
const MESSAGE = alertMessage('critical', 'ss', Date.parse('2026-11-21T05:31:00Z'), [NOTIFICATION]);
const deps = { platform: nodePlatform(), sleep: async () => undefined };

describe('syslog lines', () => {
  it('a value is a JSON string with DEL, C1, U+2028 and bidi marks escaped too: one line, and it reads back exact', () => {
    const line = syslogLine(MESSAGE, MESSAGE.notifications[0]!);
    expect(line).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202e]/);
    const subject = /subject=("(?:[^"\\]|\\.)*")/.exec(line)![1]!;
    expect(subject).toBe('"9 CLOSE_WAIT for process a\\n<11>Nov 30 forged: x\\r\\u001b[2J\\u009b\\u007f\\u2028"');
    expect(JSON.parse(subject)).toBe(SUBJECT);
    expect(line).toContain('rule="leak\\u202e"');
  });

  it.skipIf(NO_LOGGER !== undefined)(
    'real logger(1): a newline in a process name cannot forge a second record',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tcpdwell-sanitize-syslog-'));
      const socketPath = join(dir, 'log.sock');
      // Receives datagrams until 1 s passes without one; prints how many and the first.
      const receiver = spawn('python3', [
        '-c',
        'import socket,sys,json\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("ready",flush=True)\ngot=[s.recv(65536)]\ns.settimeout(1)\ntry:\n  while True: got.append(s.recv(65536))\nexcept socket.timeout: pass\nprint(json.dumps([g.decode("utf-8","replace") for g in got]),flush=True)',
        socketPath,
      ]);
      let output = '';
      receiver.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<void>((resolve) => receiver.once('close', () => resolve()));
      await new Promise<void>((resolve) => receiver.stdout.once('data', () => resolve()));
      const [result] = await deliver(MESSAGE, [{ type: 'syslog', socket: socketPath }], deps);
      await exited;
      expect(result).toEqual({ notifier: 'syslog', ok: true });
      const records = JSON.parse(output.slice(output.indexOf('\n') + 1)) as string[];
      expect(records).toHaveLength(1);
      expect(records[0]).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
      expect(records[0]).toContain('subject="9 CLOSE_WAIT for process a\\n<11>Nov 30 forged: x\\r\\u001b[2J\\u009b\\u007f\\u2028"');
    },
    15_000,
  );
});

describe('exec payload', () => {
  it.skipIf(NO_PYTHON !== undefined)('the JSON on stdin keeps the exact subject and rule', async () => {
    const [result] = await deliver(
      MESSAGE,
      [
        {
          type: 'exec',
          command: [
            'python3',
            '-c',
            'import sys,json\nm=json.load(sys.stdin)\nn=m["notifications"][0]\nsys.exit(0 if n["subject"]==sys.argv[1] and n["rule"]==sys.argv[2] else 9)',
            SUBJECT,
            'leak\u202e',
          ],
        },
      ],
      deps,
    );
    expect(result).toEqual({ notifier: 'exec python3', ok: true });
  });
});

describe('webhook secrets (issue 13, item 9)', () => {
  it('an error that quotes the URL is redacted; the notifier is named by its origin', async () => {
    const url = 'https://hooks.example.com/services/T0/B0/XyZ?token=s3cr3t';
    const fetchFake = (async () => {
      throw new TypeError(`fetch failed for ${url}`);
    }) as unknown as typeof fetch;
    const [result] = await deliver(MESSAGE, [{ type: 'webhook', url, retries: 0 }], { ...deps, fetch: fetchFake });
    expect(result).toEqual({ notifier: 'webhook https://hooks.example.com', ok: false, error: 'fetch failed for https://hooks.example.com/services/T0/B0/XyZ?token=*** after 1 attempt' });
  });

  it('real fetch with user:pass@: the credentials never reach the delivery', async () => {
    const [result] = await deliver(MESSAGE, [{ type: 'webhook', url: 'https://bob:hunter2@127.0.0.1:9/x?key=abc', retries: 0 }], deps);
    expect(result!.ok).toBe(false);
    expect(result!.error).toContain('https://***@127.0.0.1:9/x?key=***');
    expect(JSON.stringify(result)).not.toMatch(/bob|hunter2|abc/);
  });
});
