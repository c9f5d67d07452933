// Import boundaries, checked with the tests (`npm test` runs `npm run check:imports` first).
// The layers of README "Design": core ← sources ← app ← cli / dashboard / output.

// Known violations of no-os-source-above-sources, to be removed by issue 14.2 (source capabilities
// and the source registry): each file above src/sources and the OS modules it imports today. They
// are exempt pair by pair only, so any other file, and any other OS import of these files, fails.
// Delete an entry when its file no longer needs it.
const KNOWN_OS_IMPORTS_ISSUE_14_2 = {
  'src/app/monitor.ts': ['src/sources/linux/procfs.ts', 'src/sources/linux/process-owners.ts'],
  'src/cli/open-monitor.ts': ['src/sources/linux/host-facts.ts'],
  'src/output/json.ts': ['src/sources/linux/socket-killer.ts'],
};

const exactly = (path) => `^${path.replace(/[.]/g, '\\.')}$`;
const ABOVE_SOURCES = '^src/(app|cli|output|dashboard)/';
const OS_SOURCES = '^src/sources/(linux|windows|macos)/';

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
      comment: 'Nothing above src/sources imports an OS folder (sources/linux, windows, macos): a source says what it can give through src/sources (issue 14.2).',
      severity: 'error',
      from: { path: ABOVE_SOURCES, pathNot: Object.keys(KNOWN_OS_IMPORTS_ISSUE_14_2).map(exactly) },
      to: { path: OS_SOURCES },
    },
    ...Object.entries(KNOWN_OS_IMPORTS_ISSUE_14_2).map(([from, known]) => ({
      name: 'no-os-source-above-sources',
      comment: `${from}: only its known OS imports (issue 14.2) are exempt`,
      severity: 'error',
      from: { path: exactly(from) },
      to: { path: OS_SOURCES, pathNot: known.map(exactly) },
    })),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a layer that names another's types depends on it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
