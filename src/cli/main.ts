#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { nodePlatform } from '../platform/platform.js';
import { runCli } from './run.js';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const interrupt = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => interrupt.abort());
}
// `tcpdwell list --watch | head` : the reader went away; stop quietly instead of dying on EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  interrupt.abort();
});

const hangupListeners = new Set<() => void>();
process.on('SIGHUP', () => hangupListeners.forEach((listener) => listener()));

const exitCode = await runCli(
  process.argv.slice(2),
  {
    platform: nodePlatform(),
    stdout: process.stdout,
    stderr: process.stderr,
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
// exitCode, not exit(): lets stdout drain when piped.
process.exitCode = exitCode;
