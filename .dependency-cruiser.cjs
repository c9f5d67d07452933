// Import boundaries, checked with the tests (`npm test` runs `npm run check:imports` first).
// The layers of README "Design": core ← sources ← app ← cli / dashboard / output.

const ABOVE_SOURCES = '^src/(app|cli|output|dashboard)/';
// A source's own folder: the OS ones, and portable/ (the systeminformation library's), all reached
// through the registry (src/sources/registry.ts) from above.
const OS_SOURCES = '^src/sources/(linux|windows|macos|portable)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-no-node',
      comment: 'src/core is pure: no node:* module (no I/O, no process, no clock). Time and text arrive as arguments.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'core-imports-only-core',
      comment: 'src/core imports nothing from the other layers or from packages: everything else builds on it.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { pathNot: '^src/core/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'no-os-source-above-sources',
      comment: 'Nothing above src/sources imports a source folder (sources/linux, windows, macos, portable): a source says what it can give through its registry record (src/sources/registry.ts).',
      severity: 'error',
      from: { path: ABOVE_SOURCES },
      to: { path: OS_SOURCES },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a layer that names another's types depends on it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
