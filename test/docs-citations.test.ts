import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// Comments cite docs/ pages of this repository by section (`docs/tcp-facts.md#states`): every
// cited section must exist, and no comment points to notes kept outside the repository.

const ROOT = resolve(import.meta.dirname, '..');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && /\.(ts|py|md)$/.test(e.name) && !e.parentPath.includes('fixtures')).map((e) => join(e.parentPath, e.name));
}

/** GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped, spaces to `-`. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

describe('citations of docs/', () => {
  it('every docs/PAGE.md#section cited in src, test, scripts and README exists; nothing cites "field notes" or their seeds', async () => {
    const files = [...(await filesUnder('src')), ...(await filesUnder('test')), ...(await filesUnder('scripts')), join(ROOT, 'README.md')];
    const cited = new Map<string, Set<string>>();
    const outside: string[] = [];
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      if (/field notes|seed 00\d/i.test(text) && !file.endsWith('docs-citations.test.ts')) outside.push(file);
      for (const match of text.matchAll(/docs\/([a-z0-9-]+\.md)#([\w-]+)/g)) {
        if (!cited.has(match[1]!)) cited.set(match[1]!, new Set());
        cited.get(match[1]!)!.add(match[2]!);
      }
    }
    expect(outside).toEqual([]);
    expect(cited.get('tcp-facts.md')?.size).toBeGreaterThan(4);
    for (const [page, anchors] of cited) {
      const headings = (await readFile(join(ROOT, 'docs', page), 'utf8')).split('\n').filter((line) => /^#{2,4} /.test(line));
      const known = new Set(headings.map((h) => anchorOf(h.replace(/^#+ /, ''))));
      for (const anchor of anchors) expect({ page, anchor, exists: known.has(anchor) }).toEqual({ page, anchor, exists: true });
    }
  });
});
