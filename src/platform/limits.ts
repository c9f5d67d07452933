// What tcpdwell keeps of anything it reads, so that no input can grow without end (README,
// Security: "What is capped"). A file, a command's output or a response that never ends — /dev/zero,
// a FIFO, a fake `ss` that streams forever, a webhook that floods — stops at these sizes with an
// error that says which limit it met.

const MiB = 1024 * 1024;

/** The most of one file (--input, --config, /proc tables) or of one command's stdout kept, unless --read-limit says otherwise. */
export const DEFAULT_READ_LIMIT_BYTES = 256 * MiB;
/**
 * The largest --read-limit accepted: V8 holds at most 2^29 - 24 characters in one string (and
 * decoding larger text throws "Invalid string length").
 */
export const MAX_READ_LIMIT_BYTES = 500 * MiB;
/** The most of a --config file read: a config is a few KiB; this leaves room for thousands of rules. */
export const CONFIG_LIMIT_BYTES = 1024 * 1024;
/** Of a command's stderr, only this much is kept (its first line is all that is ever shown). */
export const STDERR_KEEP_CHARS = 64 * 1024;
/** Of a webhook's response body, only this much is read; then the connection is dropped. */
export const RESPONSE_BODY_KEEP_BYTES = 64 * 1024;
/** setTimeout's limit (2^31 - 1 ms); as core/duration's MAX_TIMER_MS, without importing core into a worker. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** 256 MiB, 64 KiB, 10 bytes: a size as the README and messages say it. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 * MiB],
    ['MiB', MiB],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % (size / 1024) === 0) return `${Number((bytes / size).toFixed(2))} ${unit}`;
  }
  return bytes === 1 ? '1 byte' : `${bytes} bytes`;
}

/** An error with a code (as Node's errors carry), for callers that branch on errorCode(). */
export function codedError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** A read or a command stopped by SIGINT/SIGTERM. */
export function interruptedError(): Error & { code: string } {
  return codedError('EINTERRUPTED', 'interrupted');
}

/** A file or a command's output past the read limit; `what`: "larger than", "ss printed more than". */
export function readLimitError(what: string, maxBytes: number): Error & { code: string } {
  return codedError('EFBIG', `${what} the read limit of ${formatBytes(maxBytes)} (--read-limit raises it)`);
}
