#!/usr/bin/env node
import { readFileSync, writeSync } from 'node:fs';
import { lazyHeapBudget, setProcessHeapBudget } from '../app/heap-budget.js';
import { systemClock } from '../app/poll-loop.js';
import { nodePlatform } from '../platform/platform.js';
import { GuardedStdio } from '../platform/stdio.js';
import { processHeapAccess } from '../platform/v8-heap.js';
import { ExitCode } from './exit-codes.js';
import { runCli } from './run.js';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const interrupt = new AbortController();
// Every command, file read, request and wait listens to `interrupt` and ends at once; one that
// still holds the process STOP_GRACE_MS later is cut short, so a signal always ends tcpdwell.
const STOP_GRACE_MS = 3000;
for (const [signal, number] of [
  ['SIGINT', 2],
  ['SIGTERM', 15],
] as const) {
  process.once(signal, () => {
    interrupt.abort();
    setTimeout(() => {
      try {
        writeSync(2, `tcpdwell: still busy ${STOP_GRACE_MS / 1000} s after ${signal}; exiting\n`);
      } catch {
        // stderr is gone (a closed terminal): exit all the same
      }
      process.exit(128 + number);
    }, STOP_GRACE_MS).unref();
  });
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

// The long-running modes collect V8's garbage on a budget after their polls (app/heap-budget.ts).
setProcessHeapBudget(lazyHeapBudget(processHeapAccess));
const exitCode = await runCli(
  process.argv.slice(2),
  {
    platform: nodePlatform({ interrupt: interrupt.signal }),
    stdout: stdio.stdout,
    stderr: stdio.stderr,
    env: process.env,
    // The poll loop's real clock (timers in steps of at most 2^31 - 1 ms); every wait ends on SIGINT/SIGTERM.
    sleep: (ms, signal = interrupt.signal) => systemClock.sleep(ms, signal),
    interrupt: interrupt.signal,
    stop: () => interrupt.abort(),
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
