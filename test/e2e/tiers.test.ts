import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveKoffi } from '../../src/sources/linux/sock-diag-dump.js';
import { CLI, ParkedNamespace, whyNotRunnable } from './parked-namespace.js';

// Tiered polling on the real kernel (issue 15): `watch --interval 1s --census-interval 8s` in a
// private namespace. A CLOSE_WAIT that appears mid-run is seen by the next fast poll (the stuck
// states, filtered in the kernel); a new ESTABLISHED pair is seen only at the census; a SYN_SENT
// that becomes ESTABLISHED is never reported closed, and the census says it changed state.

const HELPER = new URL('./tiers-helper.py', import.meta.url).pathname;
const skip = whyNotRunnable();
const CENSUS_MS = 8000;

interface EventLine {
  event: string;
  at: string;
  local?: { port: number };
  remote?: { port: number };
  from?: string;
  to?: string;
  state?: string;
}

function lines(stream: NodeJS.ReadableStream): () => Promise<string> {
  const queue: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  createInterface({ input: stream }).on('line', (line) => (waiters.length ? waiters.shift()!(line) : queue.push(line)));
  return () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve)));
}

describe.skipIf(skip !== undefined)('tiered polling on the real kernel', () => {
  let ns: ParkedNamespace | undefined;
  afterEach(() => ns?.stop());

  it.each(['ss', ...(resolveKoffi() ? ['netlink'] : [])])(
    '--source %s: the fast poll sees a new CLOSE_WAIT, the census a new ESTABLISHED pair, and a SYN_SENT turned ESTABLISHED is not closed',
    async (source) => {
      ns = new ParkedNamespace();
      ns.create();
      const helper = spawn('ip', ['netns', 'exec', ns.name, 'python3', HELPER], { stdio: ['pipe', 'pipe', 'inherit'] });
      const helperLine = lines(helper.stdout);
      try {
        const ports = JSON.parse(await helperLine()) as { synSent: number; pairClient: number; pairServer: number };
        const cli = spawn('ip', [
          'netns',
          'exec',
          ns.name,
          process.execPath,
          CLI,
          'watch',
          '--events',
          '--source',
          source,
          '--interval',
          '1s',
          '--census-interval',
          `${CENSUS_MS / 1000}s`,
          '--iterations',
          '12',
        ]);
        const out: string[] = [];
        let firstLine: () => void = () => undefined;
        const started = new Promise<void>((resolve) => (firstLine = resolve));
        createInterface({ input: cli.stdout }).on('line', (line) => {
          out.push(line);
          firstLine();
        });
        const exited = new Promise<number | null>((resolve) => cli.on('exit', resolve));
        await started;
        await delay(3000);
        helper.stdin.write('go\n');
        const acted = JSON.parse(await helperLine()) as { shutdownMs: number; newPairClient: number; openedMs: number };
        const connected = JSON.parse(await helperLine()) as { synSentConnectedMs: number; error: number };
        expect(await exited).toBe(0);

        const events = out.map((l) => JSON.parse(l) as EventLine);
        const at = (e: EventLine) => Date.parse(e.at);
        const firstPollMs = at(events[0]!);
        const censusMs = firstPollMs + CENSUS_MS;
        const touches = (e: EventLine, port: number) => e.local?.port === port || e.remote?.port === port;
        // The scenario held: everything happened well before the census.
        expect(connected.error).toBe(0);
        expect(connected.synSentConnectedMs).toBeLessThan(censusMs - 1000);
        expect(acted.openedMs).toBeLessThan(censusMs - 1000);

        // The CLOSE_WAIT is seen by the next fast poll: within one interval (and a second of slack) of the shutdown, long before the census.
        const closeWait = events.find((e) => e.event === 'state-changed' && e.to === 'CLOSE_WAIT' && e.local?.port === ports.pairServer && e.remote?.port === ports.pairClient);
        expect(closeWait, out.join('\n')).toBeDefined();
        expect(at(closeWait!) - acted.shutdownMs).toBeLessThanOrEqual(2000);
        expect(at(closeWait!)).toBeLessThan(censusMs);

        // The new ESTABLISHED pair changes the counts only at the census: no event of it before.
        const newPair = events.filter((e) => touches(e, acted.newPairClient));
        expect(newPair.map((e) => e.event)).toEqual(['opened', 'opened']);
        for (const e of newPair) expect(at(e)).toBeGreaterThanOrEqual(censusMs);

        // The SYN_SENT left the fast polls' states: not closed; the census finds it ESTABLISHED.
        const synSent = events.filter((e) => e.local?.port === ports.synSent);
        expect(synSent.map((e) => e.event)).toEqual(['opened', 'state-changed']);
        expect(synSent[0]).toMatchObject({ state: 'SYN_SENT' });
        expect(synSent[1]).toMatchObject({ from: 'SYN_SENT', to: 'ESTABLISHED' });
        expect(at(synSent[1]!)).toBeGreaterThanOrEqual(censusMs);
      } finally {
        helper.stdin.end();
        helper.kill('SIGTERM');
      }
    },
    40_000,
  );
});
