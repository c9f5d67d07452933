import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/parse-config.js';
import { parseCommandLine } from '../src/cli/parse-command-line.js';

// The files in examples/ are what users copy: each is checked by the tool that will read it.

const EXAMPLES = new URL('../examples/', import.meta.url).pathname;
const read = (name: string) => readFileSync(join(EXAMPLES, name), 'utf8');

function tool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    console.warn(`${name} is not installed: its check of examples/ is skipped (.ci/run installs prometheus)`);
    return false;
  }
}

describe('examples/', () => {
  it('the config file parses, with its three notifiers', () => {
    const config = parseConfig(read('tcpdwell.yml'), 'tcpdwell.yml');
    expect(config.notifiers.map((n) => n.type)).toEqual(['syslog', 'exec', 'webhook']);
    expect(config.rules.map((r) => r.name)).toEqual(['postgres-pool']);
  });

  it('the cron line and the units run tcpdwell with options it accepts', () => {
    const commands = [
      read('tcpdwell-check.cron').split('\n').find((l) => l.startsWith('*/5'))!.split(/\s+/).slice(6),
      ...['tcpdwell-check.service', 'tcpdwell-exporter.service'].map((unit) => /^ExecStart=(.*)$/m.exec(read(unit))![1]!.split(' ')),
    ];
    for (const [program, ...args] of commands) {
      expect(program).toBe('/usr/local/bin/tcpdwell');
      expect(['check', 'serve']).toContain(parseCommandLine(args).command);
    }
  });

  it.runIf(tool('promtool'))('promtool accepts the alerting rules and the scrape config', () => {
    expect(execFileSync('promtool', ['check', 'rules', join(EXAMPLES, 'prometheus-rules.yml')], { encoding: 'utf8' })).toContain('SUCCESS: 4 rules found');
    expect(execFileSync('promtool', ['check', 'config', join(EXAMPLES, 'prometheus.yml')], { encoding: 'utf8' })).toContain('is valid prometheus config file syntax');
  });

  it.runIf(tool('systemd-analyze'))('systemd-analyze verifies the units', () => {
    // verify insists that ExecStart exists: point it at a program that does.
    const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-units-'));
    const units = ['tcpdwell-check.service', 'tcpdwell-check.timer', 'tcpdwell-exporter.service'];
    for (const unit of units) writeFileSync(join(dir, unit), read(unit).replaceAll('/usr/local/bin/tcpdwell', '/usr/bin/true'));
    execFileSync('systemd-analyze', ['verify', ...units.map((u) => join(dir, u))], { stdio: 'pipe' });
  });
});
