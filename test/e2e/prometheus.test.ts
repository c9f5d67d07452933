import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whyNoProgram } from '../needs-program.js';
import { CLI, ParkedNamespace, whyNotRunnable } from './parked-namespace.js';

// A real Prometheus scrapes `tcpdwell serve` on the loopback of a namespace holding known stuck
// sessions; its query API must return the flagged counts. Both run inside the namespace.

const skip = whyNotRunnable() ?? whyNoProgram('prometheus', 'prometheus');
if (skip) console.warn(`skipping the Prometheus end-to-end test: ${skip}`);

describe.skipIf(skip !== undefined)('Prometheus scraping tcpdwell serve', () => {
  const ns = new ParkedNamespace();
  const children: ChildProcess[] = [];
  let scratch = '';

  const inNamespace = (argv: string[]) => {
    const child = spawn('ip', ['netns', 'exec', ns.name, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    return child;
  };

  /** The query API, asked from inside the namespace (its loopback is not ours). */
  const query = (promql: string): { value?: [number, string] }[] => {
    const script = `fetch(process.argv[1]).then((r) => r.json()).then((j) => console.log(JSON.stringify(j.data?.result ?? [])), () => console.log('[]'))`;
    const url = `http://127.0.0.1:19090/api/v1/query?query=${encodeURIComponent(promql)}`;
    return JSON.parse(ns.exec([process.execPath, '-e', script, url])) as { value?: [number, string] }[];
  };

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'tcpdwell-prometheus-'));
    await ns.start();
    writeFileSync(
      join(scratch, 'prometheus.yml'),
      ['global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: tcpdwell', '    static_configs:', "      - targets: ['127.0.0.1:19477']", ''].join('\n'),
    );
    inNamespace([process.execPath, CLI, 'serve', '--listen', '127.0.0.1:19477', '--interval', '1s', '--half-open', '2s', '--half-close', '2s', '--idle', '1h']);
    inNamespace(['prometheus', `--config.file=${join(scratch, 'prometheus.yml')}`, `--storage.tsdb.path=${join(scratch, 'data')}`, '--web.listen-address=127.0.0.1:19090']);
  }, 20_000);

  afterAll(() => {
    for (const child of children) child.kill('SIGTERM');
    ns.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('the query API returns the flagged half-close and half-open sessions, and up', async () => {
    const expectedHalfClose = ns.parked.filter((p) => p.flag === 'half-close').length;
    expect(expectedHalfClose).toBe(6);
    let halfClose: string | undefined;
    for (let i = 0; i < 60 && halfClose !== String(expectedHalfClose); i++) {
      await delay(500);
      halfClose = query('sum(tcpdwell_flagged{kind="half_close"})')[0]?.value?.[1];
    }
    expect(halfClose).toBe(String(expectedHalfClose));
    // The SYN_SENT from its retransmissions; the SYN_RECEIVED once observed past 2 s.
    expect(Number(query('sum(tcpdwell_flagged{kind="half_open"})')[0]?.value?.[1])).toBeGreaterThanOrEqual(1);
    expect(query('tcpdwell_connections{state="CLOSE_WAIT"}')[0]?.value?.[1]).toBe('3');
    expect(query('up{job="tcpdwell"}')[0]?.value?.[1]).toBe('1');
    expect(query('tcpdwell_up')[0]?.value?.[1]).toBe('1');
  }, 60_000);
});
