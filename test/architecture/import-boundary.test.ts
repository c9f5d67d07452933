import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// Above src/sources/, nothing knows an OS: app/, cli/, output/ and dashboard/ reach sources
// through the registry and the source-neutral modules, never through an OS folder.

const SRC = new URL('../../src/', import.meta.url).pathname;
const ABOVE_SOURCES = ['app', 'cli', 'output', 'dashboard'];
const OS_FOLDER = /(^|\/)sources\/(linux|windows|macos|portable)\//;

/** Module specifiers of every import and export-from in a TypeScript file (static and dynamic). */
export function importedModules(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    found.push((match[1] ?? match[2] ?? match[3])!);
  }
  return found;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
}

describe('import boundary', () => {
  it('finds static, type-only, re-exported and dynamic imports (inputs written for the test)', () => {
    const text = [
      "import { a } from '../sources/linux/ss.js';",
      "import type { B } from '../../sources/windows/netstat.js';",
      "export { c } from './x.js';",
      'import {',
      '  d,',
      "} from '../sources/registry.js';",
      "const m = await import('../sources/portable/systeminformation.js');",
      "import '../side-effect.js';",
    ].join('\n');
    expect(importedModules(text)).toEqual(['../sources/linux/ss.js', '../../sources/windows/netstat.js', './x.js', '../sources/registry.js', '../sources/portable/systeminformation.js', '../side-effect.js']);
    expect(importedModules(text).filter((m) => OS_FOLDER.test(m))).toHaveLength(3);
  });

  it('no file in app/, cli/, output/ or dashboard/ imports an OS source folder', () => {
    const offenders: string[] = [];
    for (const layer of ABOVE_SOURCES) {
      for (const file of filesUnder(join(SRC, layer))) {
        for (const module of importedModules(readFileSync(file, 'utf8'))) if (OS_FOLDER.test(module)) offenders.push(`${relative(SRC, file)} imports ${module}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
