import { describe, expect, it } from 'vitest';
import { netnsText, type SocketRow } from '../../src/core/connection.js';
import { formatFlaggedLine } from '../../src/output/check-text.js';
import { formatResetText } from '../../src/output/reset.js';
import { connectionToJson } from '../../src/output/json.js';
import { formatConnectionTable } from '../../src/output/table.js';
import { formatMetrics, type ExporterSnapshot } from '../../src/output/prometheus.js';
import { emptyDwellHistograms } from '../../src/core/dwell-histogram.js';
import { closeWait, viewsAfterAMinute as viewsOf } from '../tracked-rows.js';

const ID = '3b9c0d1e2f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c';

describe('a namespace on each row, where --netns read more than one', () => {
  const web = closeWait({ netns: { inode: 4026532177, names: ['web'] }, pid: 200, process: 'api' });
  const pod = closeWait({ netns: { inode: 4026532300, container: { runtime: 'containerd', id: ID, pod: '1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b' } }, pid: 300, process: 'api' });

  it('netnsText: the ip netns name, the pod, the container, host, or the inode', () => {
    expect(netnsText(web.netns!)).toBe('web');
    expect(netnsText(pod.netns!)).toBe('pod 1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b');
    expect(netnsText({ inode: 1, container: { runtime: 'docker', id: ID } })).toBe('docker 3b9c0d1e2f4a');
    expect(netnsText({ inode: 1, host: true })).toBe('host');
    expect(netnsText({ inode: 4026532999 })).toBe('net:[4026532999]');
  });

  it('the table gains a NETNS column only when the rows span namespaces', () => {
    const two = formatConnectionTable(viewsOf([web, pod]), { ownersHidden: false });
    expect(two.split('\n')[0]).toMatch(/^NETNS\s+STATE\s+LOCAL/);
    expect(two).toMatch(/\nweb\s+CLOSE_WAIT\s+127\.0\.0\.1:5000/);
    expect(two).toMatch(/\npod 1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b\s+CLOSE_WAIT/);
    expect(formatConnectionTable(viewsOf([web]), { ownersHidden: false }).split('\n')[0]).toMatch(/^STATE\s/);
    expect(formatConnectionTable(viewsOf([closeWait({})]), { ownersHidden: false }).split('\n')[0]).toMatch(/^STATE\s/);
  });

  it('JSON rows gain a netns object, and only rows read through --netns', () => {
    const [json] = viewsOf([pod]).map(connectionToJson);
    expect(json!.netns).toEqual({
      inode: 4026532300,
      id: 'net:[4026532300]',
      names: [],
      host: false,
      started: null,
      container: { runtime: 'containerd', id: ID, pod: '1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b' },
    });
    expect('netns' in connectionToJson(viewsOf([closeWait({})])[0]!)).toBe(false);
  });

  it("check's line names the namespace of the flagged session", () => {
    expect(formatFlaggedLine(viewsOf([web])[0]!)).toMatch(/^WARNING half-close: CLOSE_WAIT 127\.0\.0\.1:5000 -> 127\.0\.0\.1:40000 in netns web api\[200\] /);
    expect(formatFlaggedLine(viewsOf([closeWait({})])[0]!)).not.toMatch(/netns/);
  });

  it("reset's lines name the namespace: one flow in two namespaces is two sessions, told apart", () => {
    const [a, b] = viewsOf([web, closeWait({ netns: { inode: 4026532400, names: ['db'] }, pid: 200, process: 'api' })]);
    const text = formatResetText({ refused: false, dryRun: true, candidates: [a!, b!], untouchable: [], results: [], needsConfirmation: undefined });
    expect(text).toContain('would end CLOSE_WAIT 127.0.0.1:5000 -> 127.0.0.1:40000 in netns web api[200]\n');
    expect(text).toContain('would end CLOSE_WAIT 127.0.0.1:5000 -> 127.0.0.1:40000 in netns db api[200]\n');
    expect(formatResetText({ refused: false, dryRun: true, candidates: viewsOf([closeWait({})]), untouchable: [], results: [], needsConfirmation: undefined })).not.toMatch(/netns/);
  });
});

describe('exporter series with a netns label, bounded', () => {
  const inNs = (inode: number, names: string[] | undefined, port: number): SocketRow => closeWait({ netns: { inode, ...(names ? { names } : {}) }, local: { address: '127.0.0.1', port } });
  const snapshot = (rows: SocketRow[], netnsLabels?: { maxSeries: number }): ExporterSnapshot => {
    const views = viewsOf(rows);
    return {
      evaluation: { views, countFlags: [] },
      listenerPorts: [],
      histograms: emptyDwellHistograms(),
      polls: { ok: 1, failed: 0 },
      lastPollOk: true,
      lastPollSeconds: 0.1,
      lastPollTimestampSeconds: 1,
      source: 'ss',
      ...(netnsLabels ? { netnsLabels } : {}),
    };
  };
  const rows = [inNs(1, ['web'], 1), inNs(1, ['web'], 2), inNs(1, ['web'], 3), inNs(2, ['db'], 1), inNs(2, ['db'], 2), inNs(3, undefined, 1)];

  it('one series per namespace up to the cap, the smallest summed as netns="other"', () => {
    const text = formatMetrics(snapshot(rows, { maxSeries: 2 }));
    expect(text).toContain('tcpdwell_connections{netns="web",state="CLOSE_WAIT"} 3');
    expect(text).toContain('tcpdwell_connections{netns="db",state="CLOSE_WAIT"} 2');
    expect(text).toContain('tcpdwell_connections{netns="other",state="CLOSE_WAIT"} 1');
    expect(text).toContain('tcpdwell_flagged{netns="web",kind="half_close",severity="warning"} 3');
    expect(text).toContain('tcpdwell_flagged{netns="all",kind="count",severity="warning"} 0');
    expect(text).toMatch(/tcpdwell_oldest_dwell_seconds\{netns="db",class="half_close"\} 60/);
    expect(text).not.toContain('net:[3]');
  });

  it('a hostile namespace name reaches the exposition with its controls written out, not raw (a terminal showing curl /metrics)', () => {
    const text = formatMetrics(snapshot([inNs(7, ['x\x1b]0;PWN\x07\x1b[2J"\\\nz'], 1)], { maxSeries: 5 }));
    expect(text).toContain('tcpdwell_connections{netns="x\\\\x1b]0;PWN\\\\x07\\\\x1b[2J\\"\\\\\\\\n' + 'z",state="CLOSE_WAIT"} 1');
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  });

  it('without labels (--netns-aggregate, or no --netns) the series are the plain ones', () => {
    const text = formatMetrics(snapshot(rows));
    expect(text).toContain('tcpdwell_connections{state="CLOSE_WAIT"} 6');
    expect(text).not.toContain('netns=');
  });

  it('100,000 rows of one namespace are grouped in one pass (each row was once added by copying its group)', () => {
    // Written for the test: the views of one large namespace, as evaluateAll gives them.
    const [view] = viewsOf([inNs(1, ['web'], 1)]);
    const views = Array.from({ length: 100_000 }, () => view!);
    const started = performance.now();
    const text = formatMetrics({ ...snapshot([]), evaluation: { views, countFlags: [] }, netnsLabels: { maxSeries: 5 } });
    expect(text).toContain('tcpdwell_connections{netns="web",state="CLOSE_WAIT"} 100000');
    expect(performance.now() - started).toBeLessThan(5000); // 0.1 s here; a copy per row (5·10⁹ element copies) took 320 s
  });

  it('a name two namespaces would share, or the word other, gets its inode', () => {
    const text = formatMetrics(snapshot([inNs(7, ['other'], 1), inNs(8, undefined, 1)], { maxSeries: 5 }));
    expect(text).toContain('tcpdwell_connections{netns="other net:[7]",state="CLOSE_WAIT"} 1');
    expect(text).toContain('tcpdwell_connections{netns="net:[8]",state="CLOSE_WAIT"} 1');
  });
});
