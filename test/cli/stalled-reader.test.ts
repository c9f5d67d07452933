import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { fakeContext, parkSocketsHost } from '../fake-platform.js';

// A reader that stalls (`tcpdwell list --watch --json | sleep 45`, break-it pass): the polls went on
// and the unread output piled up in memory (147 -> 484 MB in 35 s). Now a long-running mode waits
// for its output to drain before the next poll, so memory stays bounded by one poll's output.

const ssPolls = (ran: readonly (readonly string[])[]) => ran.filter((argv) => argv[0] === 'ss').length;

describe('a stalled reader pauses the polls of list --watch and watch', () => {
  for (const argv of [
    ['list', '--watch', '1s', '--json', '--iterations', '3', '--source', 'ss'],
    ['watch', '--interval', '1s', '--iterations', '3', '--source', 'ss'],
  ]) {
    it(`${argv[0]}: no next poll until the output drains; then the rest`, async () => {
      const platform = parkSocketsHost();
      const context = fakeContext(platform);
      let release!: () => void;
      const reader = new Promise<void>((resolve) => (release = resolve));
      context.stdout.drained = () => reader;
      const run = runCli(argv, context, '0.1.0');
      for (let i = 0; i < 250 && ssPolls(platform.ran) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, 300)); // the fake clock's waits are instant: polls would follow at once
      expect(ssPolls(platform.ran)).toBe(1);
      release();
      expect(await run).toBe(0);
      expect(ssPolls(platform.ran)).toBe(3);
    });
  }
});
