import { PassThrough, Writable } from 'node:stream';
import type { PollClock } from '../src/app/poll-loop.js';

/** The text without ANSI escapes (CSI sequences, charset switches): what a person reads, in the order drawn. */
export const withoutEscapes = (text: string) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]/g, '');

/**
 * A terminal for the blessed dashboard without a tty: `output` keeps everything drawn and has the
 * size given; `input` takes keys (`input.write('q')`). `onWrite` sees all that was drawn so far,
 * after each write (a test may change what the next poll answers once something is on screen).
 */
export function fakeTerminal(size: { columns: number; rows: number }, onWrite?: (written: string) => void) {
  let written = '';
  const output = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString();
        onWrite?.(written);
        done();
      },
    }),
    { ...size, isTTY: true },
  );
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
  return { input, output, text: () => written, plain: () => withoutEscapes(written) };
}

/**
 * A poll clock for the dashboard's loop whose waits end only when the test calls `step`. It reads
 * the time from `nowMs`; `advance`, when given, is told each finished wait's length (a clock of
 * the test's own moves by it; a fake platform's clock is moved by the test instead).
 */
export function steppedClock(nowMs: () => number, advance?: (ms: number) => void): { clock: PollClock; step: () => void } {
  const waits: (() => void)[] = [];
  const clock: PollClock = {
    nowMs,
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        waits.push(() => (advance?.(ms), resolve()));
        signal.addEventListener('abort', () => resolve(), { once: true });
      }),
  };
  return { clock, step: () => waits.shift()?.() };
}
