import { describe, expect, it } from 'vitest';
import { formatBenchReport, median, ratio, README_MARKERS, replaceBetweenMarkers, type RunFacts, type SizeFigures } from '../../scripts/bench-table.js';

// Figures written for the test (round numbers, so each ratio is known by hand).

const facts: RunFacts = {
  date: '2026-12-01',
  kernel: '6.18.44',
  cores: 2,
  cpuModel: 'AMD EPYC',
  node: 'v20.20.2',
  ss: 'ss utility, iproute2-6.1.0',
  loadStart: 0.5,
  loadEnd: 1.25,
  intervalMs: 2000,
  polls: 5,
  servePolls: 30,
  rounds: 5,
  minutes: 12.5,
};

const rowOf = (report: string, measure: string) => report.split('\n').find((line) => line.includes(measure));

describe('median', () => {
  it('is the middle sample, or the mean of the two middle ones', () => {
    expect(median([30, 10, 20])).toBe(20);
    expect(median([40, 10, 30, 20])).toBe(25);
  });
  it('is NaN for no samples: a figure never read is never 0', () => {
    expect(median([])).toBeNaN();
  });
});

describe('ratio', () => {
  it('says — when the peer was too quick for the clock (0) or missing, never Infinity', () => {
    expect(ratio(30, 0, 'x')).toBe('—');
    expect(ratio(30, undefined, 'x')).toBe('—');
    expect(ratio(30, 120, 'x')).toBe('0.25× x');
  });
});

describe('formatBenchReport', () => {
  const size: SizeFigures = {
    sockets: 100056,
    ssTanoi: { cpuMs: 600, wallMs: 700 },
    serve: [
      { source: 'auto', readSource: 'netlink', cpuPerPollMs: 150, pollWallMs: 100, peakRssKb: 140 * 1024, polls: 5 },
      { source: 'ss', cpuPerPollMs: 900, pollWallMs: 1000, peakRssKb: 300 * 1024, polls: 5 },
      { source: 'procfs', failed: 'serve exited: no /proc/net/tcp' },
    ],
    systeminformation: { cpuMs: 2500, wallMs: 2000 },
    dashboard: { cpuPerPollMs: 200, peakRssKb: 240 * 1024, polls: 5 },
  };
  const report = formatBenchReport(facts, [size]);

  it('gives serve CPU per poll against ss -tanoi of the same run, with the source auto read', () => {
    expect(rowOf(report, 'serve --source auto')).toBe('| 100,056 | serve --source auto (read netlink), per poll | 150 | 100 | 140 | CPU 0.25× `ss -tanoi` | CPU ≤ 0.25×, RSS ≤ 150 MB |');
    expect(rowOf(report, 'serve --source ss')).toContain('| 900 | 1000 | 300 | CPU 1.50× `ss -tanoi` |');
  });

  it("gives systeminformation as how many times slower it is than serve's default poll", () => {
    expect(rowOf(report, 'systeminformation')).toContain('serve --source auto poll 20.0× faster');
  });

  it('shows a failed measure as failed, with no figures', () => {
    expect(rowOf(report, 'serve --source procfs')).toBe('| 100,056 | serve --source procfs, per poll | — | — | — | failed: serve exited: no /proc/net/tcp | — |');
  });

  it('starts with the machine line: cores, kernel, load average at start and end', () => {
    expect(report.split('\n')[0]).toMatch(/^Measured 2026-12-01 on Linux 6\.18\.44, 2 × AMD EPYC, .*load average 0\.50 at the start, 1\.25 at the end; 12\.5 min\./);
  });

  it("compares one-shot commands by wall time after node's start-up", () => {
    const oneShot: SizeFigures = {
      sockets: 40012,
      serve: [],
      oneShot: {
        nodeStart: { cpuMs: 40, wallMs: 100 },
        ssTanoip: { cpuMs: 700, wallMs: 800 },
        ssTanoi: { cpuMs: 250, wallMs: 400 },
        list: { cpuMs: 1000, wallMs: 1100, peakRssKb: 100 * 1024 },
        check: { cpuMs: 600, wallMs: 700, peakRssKb: 90 * 1024 },
      },
    };
    const text = formatBenchReport(facts, [oneShot]);
    expect(rowOf(text, '`list --json`')).toContain('wall after start-up 1.25× `ss -tanoip`');
    expect(rowOf(text, '`check --no-state`')).toContain('wall after start-up 1.50× `ss -tanoi`');
  });
});

describe('replaceBetweenMarkers', () => {
  const [open, close] = README_MARKERS;
  it('replaces only what lies between the markers, keeping them for the next run', () => {
    const readme = `## Performance\n\nprose\n\n${open}\n\n| old |\n\n${close}\n\nafter\n`;
    const once = replaceBetweenMarkers(readme, '| new |\n');
    expect(once).toBe(`## Performance\n\nprose\n\n${open}\n\n| new |\n\n${close}\n\nafter\n`);
    expect(replaceBetweenMarkers(once, '| newer |\n')).toBe(`## Performance\n\nprose\n\n${open}\n\n| newer |\n\n${close}\n\nafter\n`);
  });
  it('refuses a README without both markers in order (the table is never written somewhere else)', () => {
    expect(() => replaceBetweenMarkers(`${close}\n${open}\n`, 'x')).toThrow(/once each, in that order/);
    expect(() => replaceBetweenMarkers('no markers', 'x')).toThrow(/needs the lines/);
  });
});
