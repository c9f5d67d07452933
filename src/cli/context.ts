import type { Platform } from '../platform/platform.js';

/** Everything a command may touch, injected so whole-command tests run on fakes. */
export interface CliContext {
  platform: Platform;
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Waits, unless the signal aborts first (Ctrl-C in --watch). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Aborted on SIGINT/SIGTERM. */
  interrupt: AbortSignal;
}
