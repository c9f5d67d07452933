import { expect } from 'vitest';
import { runCheckUseCase, type CheckRequest } from '../src/app/check-run.js';
import { Monitor } from '../src/app/monitor.js';
import type { CheckReport } from '../src/app/reports.js';
import { leftOutTotal } from '../src/core/evaluate.js';
import type { Policy } from '../src/core/policy.js';
import { formatCheckText } from '../src/output/check-text.js';
import { checkToJson } from '../src/output/json.js';
import { formatNagiosReport } from '../src/output/nagios.js';
import { FakePlatform } from './fake-platform.js';
import { replyTo } from './sources/linux/captured-kernel.js';

// One check run over given sock_diag dumps, with the first-sight screen or without, and its
// outputs in every format: for test/app/check-first-sight-screen.test.ts (captured and generated
// dumps) and test/e2e/first-sight-screen.test.ts (dumps read from the real kernel).

/** A channel answering each dump as the kernel would from these datagrams of each family's dump (captured-kernel.ts replyTo). */
export function channelOf(inet: Uint8Array[], inet6: Uint8Array[]) {
  return () => ({
    dump: async ({ request }: { request: Uint8Array }, onDatagram: (bytes: Uint8Array) => void) => {
      // Each datagram from a Buffer the next one overwrites, as the real channel's reused buffers do
      // (a Buffer: its slice() is a view, not a copy).
      // As large as the real one (256 KiB), or as the largest datagram given.
      const buffer = Buffer.alloc(Math.max(1 << 18, ...inet.map((d) => d.length), ...inet6.map((d) => d.length)));
      for (const datagram of replyTo(request, inet, inet6)) {
        buffer.set(datagram);
        onDatagram(buffer.subarray(0, datagram.length));
        buffer.fill(0xee, 0, datagram.length);
      }
    },
    close: () => undefined,
  });
}

export interface Host {
  inet: Uint8Array[];
  inet6: Uint8Array[];
  /** /proc/sys/net/ipv4/ip_local_port_range, if any. */
  portRange?: string;
  uptimeSeconds?: number;
}

export interface Outputs {
  status: string;
  text: string[];
  textAll: string[];
  json: string;
  nagios: string;
  leftOut: number;
  views: number;
}

export async function check(host: Host, policy: Policy, screen: boolean, resetKinds?: CheckRequest['resetKinds']): Promise<Outputs> {
  const platform = new FakePlatform();
  if (host.portRange !== undefined) platform.files.set('/proc/sys/net/ipv4/ip_local_port_range', host.portRange);
  platform.files.set('/proc/sys/net/ipv4/tcp_fin_timeout', '60\n');
  if (host.uptimeSeconds !== undefined) platform.files.set('/proc/uptime', `${host.uptimeSeconds} 1000.00\n`);
  const request: CheckRequest = {
    policy,
    notifiers: [],
    stateFilePath: undefined,
    source: 'auto',
    procRoot: '/proc',
    renotifyMs: Infinity,
    resetKinds,
    intervalMs: 2000,
    screenFirstReading: screen,
  };
  const report: CheckReport = await runCheckUseCase(request, {
    platform,
    sleep: async () => undefined,
    interrupt: new AbortController().signal,
    openMonitor: async () => {
      const monitor = new Monitor(platform, {
        source: 'auto',
        procRoot: '/proc',
        autoOptions: { kernelSockets: true, netlinkFirst: true, netlink: { openChannel: channelOf(host.inet, host.inet6) } },
      });
      monitor.prefetchOwners();
      return monitor;
    },
  });
  return {
    status: report.status,
    text: formatCheckText(report, false),
    textAll: formatCheckText(report, true),
    json: JSON.stringify(checkToJson(report), null, 2),
    nagios: formatNagiosReport(report),
    leftOut: leftOutTotal(report.leftOut),
    views: report.evaluation.views.length,
  };
}

/** Both runs; the outputs must be equal. Returns how many connections the screened run left out. */
export async function expectSame(host: Host, policy: Policy, what: string): Promise<{ leftOut: number; full: Outputs }> {
  const full = await check(host, policy, false);
  const screened = await check(host, policy, true);
  expect(full.leftOut, what).toBe(0);
  const { leftOut: _a, views: _b, ...fullOutputs } = full;
  const { leftOut, views, ...screenedOutputs } = screened;
  expect(screenedOutputs, what).toEqual(fullOutputs);
  expect(views + leftOut, what).toBe(full.views);
  return { leftOut, full };
}
