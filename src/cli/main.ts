#!/usr/bin/env node
import { readFileSync, writeSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { nodePlatform } from '../platform/platform.js';
import { GuardedStdio } from '../platform/stdio.js';
import { ExitCode } from './exit-codes.js';
import { runCli } from './run.js';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const interrupt = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => interrupt.abort());
}
// `tcpdwell list --watch | head` (EPIPE) or the terminal closed under it (EIO): nobody reads any
// more, so the command stops quietly instead of dying on the failed write.
const stdio = new GuardedStdio((loss) => {
  if (loss.kind === 'write-failed') {
    // Also when the failure surfaces after the command returned (a one-shot list to a full disk).
    process.exitCode = ExitCode.IO_ERROR;
    try {
      writeSync(2, `tcpdwell: cannot write output: ${loss.message}\n`);
    } catch {
      // stderr is gone too
    }
  }
  interrupt.abort();
});

// SIGHUP: the terminal hung up (window closed, ssh gone), or logrotate asks for the --log file to
// be reopened. A closed terminal, or a terminal-bound command with no log to reopen, ends quietly.
const hangupListeners = new Set<() => void>();
process.on('SIGHUP', () => {
  if (stdio.onTerminal && stdio.terminalHungUp()) stdio.lose({ kind: 'terminal-closed' });
  else if (stdio.onTerminal && hangupListeners.size === 0) interrupt.abort();
  else hangupListeners.forEach((listener) => listener());
});

const exitCode = await runCli(
  process.argv.slice(2),
  {
    platform: nodePlatform(),
    stdout: stdio.stdout,
    stderr: stdio.stderr,
    env: process.env,
    sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : {}).catch(() => undefined),
    interrupt: interrupt.signal,
    ...(process.stdin.isTTY && process.stdout.isTTY ? { terminal: { input: process.stdin, output: process.stdout } } : {}),
    onHangup: (listener) => {
      hangupListeners.add(listener);
      return () => hangupListeners.delete(listener);
    },
  },
  version,
);
stdio.detachFromClosedTerminal();
// exitCode, not exit(): lets stdout drain when piped.
process.exitCode = stdio.loss?.kind === 'write-failed' ? ExitCode.IO_ERROR : exitCode;
