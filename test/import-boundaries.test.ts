import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// The import-boundary rules (.dependency-cruiser.cjs, run by `npm test` over src/) tried on a small
// tree written for the test, laid out like src/, so each rule is seen to catch what it is for.

const ROOT = resolve(import.meta.dirname, '..');
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');

const TREE: Record<string, string> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true }, include: ['src'] }),
  'src/core/pure.ts': "import { other } from './other.js';\nexport const pure = other;\n",
  'src/core/other.ts': 'export const other = 1;\n',
  'src/core/impure.ts':
    "import { readFileSync } from 'node:fs';\nimport type { Socket } from 'node:net';\nimport { b } from '../cli/b.js';\nexport const c: [unknown, unknown] = [readFileSync, b];\nexport type S = Socket;\n",
  'src/cli/b.ts': "import { d } from '../sources/linux/d.js';\nexport const b = d;\n",
  'src/sources/linux/d.ts': 'export const d = 1;\n',
  'src/sources/linux/procfs.ts': 'export const p = 1;\n',
  'src/sources/registry.ts': "import { d } from './linux/d.js';\nexport const r = d;\n",
  // The files issue 14.2 listed as exempt are exempt no more (the registry gives what they imported).
  'src/app/monitor.ts': "import { p } from '../sources/linux/procfs.js';\nimport { d } from '../sources/linux/d.js';\nexport const m = [p, d];\n",
  // Type-only, re-exported and dynamic imports of a source folder count too (portable/ included).
  'src/output/o.ts':
    "import type { W } from '../sources/windows/w.js';\nexport type { W };\nexport { s } from '../sources/portable/s.js';\nexport const load = () => import('../sources/macos/m.js');\n",
  'src/sources/windows/w.ts': 'export type W = number;\n',
  'src/sources/portable/s.ts': 'export const s = 1;\n',
  'src/sources/macos/m.ts': 'export const m = 1;\n',
  'src/dashboard/ok.ts': "import { r } from '../sources/registry.js';\nimport { pure } from '../core/pure.js';\nexport const ok = [r, pure];\n",
};

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('import boundaries', () => {
  it('core imports neither node:* nor another layer; nothing above sources/ imports a source folder, with no exemption', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tcpdwell-boundaries-'));
    for (const [path, text] of Object.entries(TREE)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    const run = await promisify(execFile)(DEPCRUISE, ['src', '--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json'], { cwd: dir }).catch((error: { stdout: string }) => ({
      stdout: error.stdout,
    }));
    const violations = (JSON.parse(run.stdout) as { summary: { violations: { from: string; to: string; rule: { name: string } }[] } }).summary.violations;
    const found = violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
    expect(found).toEqual(
      [
        'core-imports-no-node: src/core/impure.ts → fs',
        'core-imports-no-node: src/core/impure.ts → net',
        'core-imports-only-core: src/core/impure.ts → src/cli/b.ts',
        'no-os-source-above-sources: src/app/monitor.ts → src/sources/linux/d.ts',
        'no-os-source-above-sources: src/app/monitor.ts → src/sources/linux/procfs.ts',
        'no-os-source-above-sources: src/output/o.ts → src/sources/windows/w.ts',
        'no-os-source-above-sources: src/output/o.ts → src/sources/portable/s.ts',
        'no-os-source-above-sources: src/output/o.ts → src/sources/macos/m.ts',
        'no-os-source-above-sources: src/cli/b.ts → src/sources/linux/d.ts',
      ].sort(),
    );
  }, 60_000);
});
