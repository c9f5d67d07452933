import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The shape issue 14 asked for, checked so it stays: commands parse, call a use case, print and
// exit; the poll loop lives in src/app (front ends drive app's PollLoop, they do not write their own).

const SRC = new URL('../src/', import.meta.url).pathname;

function filesUnder(dir: string): string[] {
  return readdirSync(join(SRC, dir), { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
}

describe('architecture', () => {
  it('every command file is under 100 lines', () => {
    const long = filesUnder('cli/commands')
      .map((file) => ({ file, lines: readFileSync(join(SRC, file), 'utf8').split('\n').length }))
      .filter((f) => f.lines >= 100);
    expect(long).toEqual([]);
  });

  it('no timer-driven loop outside src/app and the platform edge; no command constructs the poll loop', () => {
    const timers = ['cli', 'dashboard', 'output', 'core', 'sources', 'notify', 'config'].flatMap(filesUnder).filter((file) => /\bsetInterval\s*\(/.test(readFileSync(join(SRC, file), 'utf8')));
    expect(timers).toEqual([]);
    const loops = filesUnder('cli').filter((file) => /new PollLoop\b/.test(readFileSync(join(SRC, file), 'utf8')));
    expect(loops).toEqual([]);
  });
});
