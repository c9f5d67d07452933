// npm run docs:sources
//
// Rewrites the README's sources table from the source registry (src/sources/registry.ts). A test
// (test/sources/registry.test.ts) fails when the README and the registry disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { withSourcesTable } from '../src/output/sources.js';
import { LIVE_SOURCES } from '../src/sources/registry.js';

const path = new URL('../README.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = withSourcesTable(before, LIVE_SOURCES);
if (after !== before) writeFileSync(path, after);
console.log(after === before ? 'README sources table already matches the registry' : 'README sources table regenerated from the registry');
