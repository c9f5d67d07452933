import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { FakePlatform, fakeContext, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// check over runs kept in a state file, on an injected clock, where a SYN_RECEIVED's age (its
// timeout count in /proc/net/tcp) cannot be read: what the runs prove is judged, and only the part
// they do not prove leaves the verdict unknown. The capture's request socket is
// 127.0.0.1:43211 -> 127.0.0.1:35576; its SYN_SENT (which alone proves a WARNING) is left out.

const SS = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
const withoutState = (word: string) =>
  SS.split('\n')
    .filter((l, i, all) => !l.startsWith(word) && !all[i - 1]?.startsWith(word))
    .join('\n');
const WITH_REQUEST = withoutState('SYN-SENT');
const WITHOUT_REQUEST = withoutState('SYN-RECV')
  .split('\n')
  .filter((l, i, all) => !l.startsWith('SYN-SENT') && !all[i - 1]?.startsWith('SYN-SENT'))
  .join('\n');

let platform: FakePlatform;
let dir: string;

beforeEach(async () => {
  platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
  // No /proc/net/tcp*: the request socket's age is not read.
  platform.requestTablesEmpty = false;
  platform.commands = [ssAnswers(WITH_REQUEST)];
  dir = await mkdtemp(join(tmpdir(), 'tcpdwell-unknownage-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function check(...extra: string[]) {
  const context = fakeContext(platform, { HOME: dir });
  const halfOpen = extra.includes('--half-open') ? [] : ['--half-open', '30s'];
  const code = await runCli(['check', '--source', 'ss', '--state-file', join(dir, 'state.json'), ...halfOpen, '--idle', 'off', ...extra], context, '0.1.0');
  return { code, out: context.out(), err: context.err() };
}

const UNKNOWN_LINE = /^tcpdwell UNKNOWN - the age of 1 SYN_RECEIVED socket not read \(cannot read \/proc\/net\/tcp: /m;

describe('a SYN_RECEIVED whose age is not read, across runs kept in a state file', () => {
  it('first sight: UNKNOWN (its age may be anything)', async () => {
    const { code, out } = await check();
    expect(out).toMatch(UNKNOWN_LINE);
    expect(code).toBe(3);
  });

  it('seen in SYN_RECEIVED for 40 s over two runs: flagged on that proven lower bound, WARNING (exit 1), nothing unknown', async () => {
    await check();
    platform.nowValue += 40_000;
    const { code, out } = await check();
    expect(out).toMatch(/^WARNING half-open: SYN_RECEIVED 127\.0\.0\.1:43211 -> 127\.0\.0\.1:35576 in state 40s > 30s/m);
    expect(out).toMatch(/^tcpdwell WARNING - 1 half-open/m);
    expect(out).toMatch(/^note: the age of 1 SYN_RECEIVED socket not read \(.*\): judged on its time in the state as the polls saw it, which the unread age cannot change$/m);
    expect(code).toBe(1);
  });

  it('a WARNING proven by the lower bound, where the unknown part could make it CRITICAL: WARNING, saying so', async () => {
    await check();
    platform.nowValue += 40_000;
    const { code, out } = await check('--critical-half-open', '2m');
    expect(out).toMatch(/^tcpdwell WARNING - 1 half-open/m);
    expect(out).toContain('the age of 1 SYN_RECEIVED socket not read');
    expect(code).toBe(1);
  });

  it('seen for 10 s over two runs, under the threshold: still UNKNOWN (exit 3), the age before first sight may pass it', async () => {
    await check();
    platform.nowValue += 10_000;
    const { code, out } = await check();
    expect(out).toMatch(UNKNOWN_LINE);
    expect(code).toBe(3);
  });

  it('not there at the run before, there now (10 s later): at most 10 s in the state, under 30 s: OK (exit 0), with a note (was UNKNOWN)', async () => {
    platform.commands = [ssAnswers(WITHOUT_REQUEST)];
    expect((await check()).code).toBe(0);
    platform.commands = [ssAnswers(WITH_REQUEST)];
    platform.nowValue += 10_000;
    const { code, out } = await check('--all');
    expect(out).toMatch(/^tcpdwell OK/m);
    expect(out).toContain('the age of 1 SYN_RECEIVED socket not read');
    expect(code).toBe(0);
  });

  it('the same, 40 s later: at most 40 s, maybe over 30 s: UNKNOWN (exit 3)', async () => {
    platform.commands = [ssAnswers(WITHOUT_REQUEST)];
    expect((await check()).code).toBe(0);
    platform.commands = [ssAnswers(WITH_REQUEST)];
    platform.nowValue += 40_000;
    const { code, out } = await check();
    expect(out).toMatch(UNKNOWN_LINE);
    expect(code).toBe(3);
  });

  it('no half-open threshold (--half-open off): its age changes no verdict, OK at first sight (was UNKNOWN)', async () => {
    const { code, out, err } = await check('--half-open', 'off', '--all');
    expect(err).toBe('');
    expect(out).toMatch(/^tcpdwell OK/m);
    expect(code).toBe(0);
  });
});
