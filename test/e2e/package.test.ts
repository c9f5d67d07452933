import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// `npm pack` must yield a package that installs and runs with its production dependencies only:
// a runtime import of a dev dependency (vitest, typescript) would fail here. `npm test` builds dist/
// first; packing with --ignore-scripts keeps prepack from rebuilding it under the running kernel tests.

const ROOT = new URL('../..', import.meta.url).pathname;

describe('the packed package', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'tcpdwell-pack-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('installs from its tarball and answers --help and check', () => {
    execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', scratch], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    const tarball = readdirSync(scratch).find((name) => name.endsWith('.tgz'));
    expect(tarball).toMatch(/^tcpdwell-\d+\.\d+\.\d+\.tgz$/);
    const prefix = join(scratch, 'prefix');
    execFileSync('npm', ['install', '--global', '--omit=dev', '--no-audit', '--no-fund', '--prefix', prefix, join(scratch, tarball!)], { stdio: ['ignore', 'ignore', 'pipe'] });
    const bin = join(prefix, 'bin', 'tcpdwell');
    expect(execFileSync(bin, ['--help'], { encoding: 'utf8' })).toContain('check [options]');
    const installed = readdirSync(join(prefix, 'lib', 'node_modules', 'tcpdwell', 'node_modules'));
    expect(installed).not.toContain('vitest');
    expect(installed).not.toContain('typescript');
    // Reads this machine's real table through procfs; exit 0 (ok) or 1/2 (something flagged) both prove it ran.
    let code = 0;
    try {
      execFileSync(bin, ['check', '--no-state', '--source', 'procfs'], { stdio: 'ignore' });
    } catch (error) {
      code = (error as { status: number }).status;
    }
    expect([0, 1, 2]).toContain(code);
  }, 120_000);
});
