import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The README's Install section, end to end: `npm pack`, then `npm install -g` of the tarball (into
// a temporary prefix instead of /usr/local), then the installed `tcpdwell` run for real. The package
// must install and run with its production dependencies only: a runtime import of a dev dependency
// (vitest, typescript) would fail here. `npm test` builds dist/ first; packing with --ignore-scripts
// keeps prepack from rebuilding it under the running kernel tests.

const ROOT = new URL('../..', import.meta.url).pathname;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Runs the command; its exit code (0 when it succeeded). */
function exitOf(program: string, args: string[]): number {
  try {
    execFileSync(program, args, { stdio: 'ignore' });
    return 0;
  } catch (error) {
    return (error as { status: number }).status;
  }
}

describe('the packed package', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'tcpdwell-pack-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('installs globally from its tarball with examples/ and LICENSE, and its bin answers --version and runs check with the example config', () => {
    execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', scratch], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    const tarball = readdirSync(scratch).find((name) => name.endsWith('.tgz'));
    expect(tarball).toBe(`tcpdwell-${VERSION}.tgz`);
    const contents = execFileSync('tar', ['-tzf', join(scratch, tarball!)], { encoding: 'utf8' }).split('\n');
    expect(contents).toEqual(
      expect.arrayContaining([
        'package/LICENSE',
        'package/README.md',
        'package/dist/cli/main.js',
        'package/examples/tcpdwell.yml',
        'package/examples/tcpdwell-check.cron',
        'package/examples/prometheus-rules.yml',
      ]),
    );
    expect(contents.filter((path) => path.startsWith('package/src/') || path.startsWith('package/test/'))).toEqual([]);

    const prefix = join(scratch, 'prefix');
    execFileSync('npm', ['install', '--global', '--omit=dev', '--no-audit', '--no-fund', '--prefix', prefix, join(scratch, tarball!)], { stdio: ['ignore', 'ignore', 'pipe'] });
    const bin = join(prefix, 'bin', 'tcpdwell');
    const installed = join(prefix, 'lib', 'node_modules', 'tcpdwell');
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()).toBe(VERSION);
    expect(execFileSync(bin, ['--help'], { encoding: 'utf8' })).toContain('check [options]');
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} tcpdwell authors\n/);
    const dependencies = readdirSync(join(installed, 'node_modules'));
    expect(dependencies).not.toContain('vitest');
    expect(dependencies).not.toContain('typescript');

    // This machine's real table, with the installed example config and a state file, twice as cron
    // would: 0 (ok) or 1/2 (something flagged) prove it ran; 3 would be UNKNOWN, 75 a notifier
    // failing (the example's notifiers are commented out).
    const check = ['check', '--config', join(installed, 'examples', 'tcpdwell.yml'), '--state-file', join(scratch, 'state.json'), '--source', 'procfs'];
    expect([0, 1, 2]).toContain(exitOf(bin, check));
    expect([0, 1, 2]).toContain(exitOf(bin, check));
    expect(JSON.parse(readFileSync(join(scratch, 'state.json'), 'utf8'))).toMatchObject({ format: 'tcpdwell-check-state' });
  }, 180_000);

  it('runs without installing, from the checkout: npx tcpdwell and node dist/cli/main.js', () => {
    expect(execFileSync('npx', ['--no-install', 'tcpdwell', '--version'], { cwd: ROOT, encoding: 'utf8' }).trim()).toBe(VERSION);
    expect(execFileSync('node', [join(ROOT, 'dist/cli/main.js'), '--version'], { encoding: 'utf8' }).trim()).toBe(VERSION);
  }, 60_000);
});
