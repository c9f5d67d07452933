import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from './parked-namespace.js';

// SIGINT while `ss` runs (a slow poll): the built CLI kills it and ends cleanly, as after a SIGINT
// between polls. The `ss` here is a script first on PATH (written for the test): its first run
// prints a one-row table in ss's shape at once, every later run hangs for 30 s.

const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-a2-interrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A directory holding a fresh slow `ss`, and the file its first run leaves. */
function slowSs(name: string): { bin: string; marker: string } {
  const bin = join(dir, name);
  mkdirSync(bin);
  const marker = join(bin, 'polled');
  const table = 'State      Recv-Q Send-Q      Local Address:Port        Peer Address:Port Process\\nLISTEN     0      16              127.0.0.1:40957            0.0.0.0:*\\n';
  writeFileSync(join(bin, 'ss'), `#!/bin/sh\nif [ -e ${marker} ]; then exec sleep 30; fi\ntouch ${marker}\nprintf '${table}'\n`, { mode: 0o755 });
  return { bin, marker };
}

/**
 * Runs the CLI with `--source ss`; SIGINT `afterMs` after the first poll's ss ran, so during the
 * second (hanging) poll whatever the machine's load makes of node's start-up. `ms`: from SIGINT to exit.
 */
function interrupted(name: string, argv: string[], afterMs: number): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }> {
  const { bin, marker } = slowSs(name);
  return new Promise((resolve) => {
    let signalledAt = Date.now();
    const child = spawn(process.execPath, [CLI, ...argv, '--source', 'ss'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const waitForFirstPoll = setInterval(() => {
      if (!existsSync(marker)) return;
      clearInterval(waitForFirstPoll);
      setTimeout(() => {
        signalledAt = Date.now();
        child.kill('SIGINT');
      }, afterMs);
    }, 20);
    child.on('exit', (code, signal) => {
      clearInterval(waitForFirstPoll);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - signalledAt });
    });
  });
}

describe('SIGINT during a poll (the built CLI, a hanging ss)', () => {
  it('list --watch: exit 0, nothing on stderr, promptly', async () => {
    const r = await interrupted('list', ['list', '--watch', '1s'], 1500);
    expect(r.stdout).toContain('127.0.0.1:40957');
    expect(r).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(r.ms).toBeLessThan(5000);
  }, 20_000);

  it('watch: exit 0 and nothing on stderr, after its start line', async () => {
    const r = await interrupted('watch', ['watch', '--interval', '1s'], 1500);
    expect(r.stdout).toMatch(/^\S+ watching 1 connection \(0 flagged\) through ss every 1s; /);
    expect(r).toMatchObject({ code: 0, signal: null, stderr: '' });
  }, 20_000);

  it('check --window: the last completed poll decides (OK, not UNKNOWN 3)', async () => {
    const r = await interrupted('check', ['check', '--no-state', '--window', '1m', '--interval', '1s'], 1500);
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(r.stdout).toBe('');
  }, 20_000);
});
