import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { appendAll, maxOf } from '../../src/core/lists.js';
import { FakePlatform, fakeContext } from '../fake-platform.js';

// Issue 13.4: `Math.max(...rows)` and `push(...views)` put a whole table on the stack, and V8
// overflows it from ~125,000 elements: exit 70 "this is a bug". These run 300,000 rows through
// every front end that prints a table or a list of flags.

const ROWS = 300_000;

/**
 * A /proc/net/tcp capture written for this test, in the kernel's own layout (header, then
 * `sl: local remote st …` per socket, addresses as little-endian hex): ROWS sockets in SYN_SENT
 * (st 02), all to one upstream 10.0.0.10:5432, from distinct local addresses.
 */
function synSentCapture(capturedAt: string): string {
  const lines = [`# captured at ${capturedAt}`, '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'];
  for (let i = 0; i < ROWS; i++) {
    const local = (0x0100000a + i * 256).toString(16).padStart(8, '0').slice(-8).toUpperCase();
    lines.push(`${String(i).padStart(6)}: ${local}:9C40 0A00000A:1538 02 00000000:00000000 01:00000064 00000002  1000        0 ${100_000 + i} 1 0000000000000000 100 0 0 10 -1`);
  }
  return `${lines.join('\n')}\n`;
}

let platform: FakePlatform;

beforeAll(() => {
  platform = new FakePlatform();
  // Two captures 90 s apart: every socket is seen in both, so each has dwelt ≥ 90 s in SYN_SENT
  // and is flagged half-open (default 30 s).
  platform.files.set('/c/1.txt', synSentCapture('2026-11-20T10:00:00Z'));
  platform.files.set('/c/2.txt', synSentCapture('2026-11-20T10:01:30Z'));
});

async function run(argv: string[]) {
  const context = fakeContext(platform);
  const code = await runCli(argv, context, '0.1.0');
  return { code, out: context.out(), err: context.err() };
}

const inputs = ['--input', '/c/1.txt', '/c/2.txt'];

describe(`a table of ${ROWS.toLocaleString('en')} rows, every one flagged`, () => {
  // The table of list (column widths over every row) and the diagnosis (the oldest of a group).
  it('list --why --flagged prints every row in columns, each with its diagnosis', async () => {
    const { code, out, err } = await run(['list', '--why', '--flagged', ...inputs]);
    expect(err).not.toContain('this is a bug');
    expect(code).toBe(0);
    expect(out.split('\n').filter((l) => l.includes('SYN_SENT') && l.includes('10.0.0.10:5432'))).toHaveLength(ROWS);
    // The group finding takes the oldest dwell of all 300,000 (Math.max over the group).
    expect(out).toMatch(/300,?000 connections in SYN_SENT, the oldest for at least 1m\d\ds/);
  }, 600_000);

  it('check --all prints a line per flag', async () => {
    const { code, out, err } = await run(['check', '--all', ...inputs]);
    expect(err).not.toContain('this is a bug');
    expect(code).toBe(1);
    expect(out.split('\n').filter((l) => l.includes('SYN_SENT'))).toHaveLength(ROWS);
  }, 600_000);

  it('check --json reports every flag, though its text is longer than one string may be', async () => {
    const context = fakeContext(platform);
    // ~590 MB of JSON: kept as pieces here, since one string cannot hold it (V8: ~2^29 chars).
    let sessions = 0;
    let chars = 0;
    let head = '';
    let last = '';
    context.stdout.write = (piece: string) => {
      if (!head) head = piece.slice(0, 200);
      sessions += piece.split('"dwellSource": ').length - 1;
      chars += piece.length;
      last = piece;
      return true;
    };
    const code = await runCli(['check', '--json', ...inputs], context, '0.1.0');
    expect(context.err()).toBe('');
    expect(code).toBe(1);
    expect(head).toMatch(/^\{\n {2}"status": "warning",/);
    expect(sessions).toBe(ROWS);
    expect(chars).toBeGreaterThan(2 ** 29);
    expect(last.endsWith('\n}\n')).toBe(true);
  }, 600_000);
});

describe('the list helpers that replace spread argument lists', () => {
  it('maxOf and appendAll handle a million elements and empty lists', () => {
    const big = Array.from({ length: 1_000_000 }, (_, i) => (i * 7919) % 1_000_003);
    expect(maxOf(big)).toBe(
      Math.max(
        ...big.slice(0, 0),
        big.reduce((a, b) => (b > a ? b : a), -Infinity),
      ),
    );
    expect(maxOf([], 1)).toBe(1);
    expect(maxOf([-5, -2], 0)).toBe(0);
    const target = ['first'];
    appendAll(target, big.map(String));
    expect(target).toHaveLength(1_000_001);
    expect(target[1]).toBe('0');
  });

  it('no call in src spreads a list into its arguments (push/unshift/splice/Math.max/min/fromCharCode/apply)', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts'))
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (/^\s*(\/\/|\*)/.test(line)) return;
              // A spread argument (not an object spread) in one of the calls that take lists. Notice
              // builders (summarizeProblems, *Notices) return a line or two, never a table.
              const spread = /\b(?:push|unshift|splice|max|min|fromCharCode|concat)\((?:[^(){}]*,\s*)?\.\.\.(?!\s*(?:summarizeProblems|\w+Notices)\()/.test(line);
              if (spread || /\.apply\(/.test(line)) offenders.push(`${path}:${i + 1}: ${line.trim()}`);
            });
      }
    };
    walk(join(import.meta.dirname, '../../src'));
    expect(offenders).toEqual([]);
  });
});
