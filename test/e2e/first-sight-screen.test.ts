import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy, type Policy } from '../../src/core/policy.js';
import { AF_INET, AF_INET6, sockDiagRequest } from '../../src/sources/linux/parse-sock-diag.js';
import { openSockDiagChannel, resolveKoffi } from '../../src/sources/linux/sock-diag-dump.js';
import { expectSame, type Host } from '../first-sight-check.js';
import { ParkedNamespace, whyNotRunnable } from './parked-namespace.js';

// The first-sight screen on the kernel's own bytes: dumps of a 3,000-socket population (the
// bench's mix: ESTABLISHED, CLOSE_WAIT, FIN_WAIT_2, TIME_WAIT, SYN_SENT to a full listener,
// listeners) read through the real channel, each datagram copied as it arrives, then check run on
// them with and without the screen: the reports must be the same in every format.

const skip = whyNotRunnable() ?? (resolveKoffi() ? undefined : 'the koffi library is not installed');
if (skip) console.warn(`skipping first-sight screen end-to-end tests: ${skip}`);

describe.skipIf(skip !== undefined)('check with the first-sight screen on dumps of the real kernel', () => {
  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const populated = new ParkedNamespace();
  beforeAll(() => populated.populate(3000), 60_000);
  afterAll(() => populated.stop());

  const dumped = async (): Promise<Host> => {
    const channel = openSockDiagChannel({ littleEndian });
    const families: Uint8Array[][] = [];
    try {
      for (const [i, family] of ([AF_INET, AF_INET6] as const).entries()) {
        const datagrams: Uint8Array[] = [];
        await channel.dump({ request: sockDiagRequest({ family, withTcpInfo: true, sequence: i + 1, littleEndian }), netns: { path: `/run/netns/${populated.name}` } }, (bytes) =>
          datagrams.push(Uint8Array.prototype.slice.call(bytes)),
        );
        families.push(datagrams);
      }
    } finally {
      channel.close();
    }
    return { inet: families[0]!, inet6: families[1]!, portRange: '32768 60999\n', uptimeSeconds: 86_400 };
  };

  it('the same report with and without the screen, and most of the table left out', async () => {
    const host = await dumped();
    // Dozens of datagrams: the receive buffers were reused many times over.
    expect(host.inet.length).toBeGreaterThan(20);
    const policies: [string, Policy][] = [
      ['the default', defaultPolicy()],
      ['idle at 1 ms (every ESTABLISHED with data flagged)', { ...defaultPolicy(), warning: { ...defaultPolicy().warning, idleMs: 1 } }],
      ['a small ephemeral range (the TIME_WAIT to each listener are a group finding)', defaultPolicy('asa')],
    ];
    for (const [name, policy] of policies) {
      const small = name.startsWith('a small') ? { ...host, portRange: '40000 40199\n' } : host;
      const { leftOut, full } = await expectSame(small, policy, name);
      if (name === 'the default') expect(leftOut).toBeGreaterThan(2000);
      // The TIME_WAIT to the population's listener fill half of 200 ephemeral ports: their rows were made after all.
      if (name.startsWith('a small')) expect(full.json).toContain('"code": "ephemeral-ports"');
      expect(full.status, name).not.toBe('unknown');
    }
  }, 60_000);
});
