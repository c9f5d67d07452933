import { execFileSync } from 'node:child_process';

// Tests that run an outside program skip, saying why, when it is absent: `npm test` first runs
// scripts/test-setup.sh, which installs the programs as root (apt-get) or says in one line what
// is missing. No test fails merely because a program is not installed.

/** Why a test needing `program` (from Debian's `pkg`) cannot run here, or undefined when it can. */
export function whyNoProgram(program: string, pkg: string, versionFlag = '--version'): string | undefined {
  try {
    execFileSync(program, [versionFlag], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `needs ${program} (Debian package ${pkg}; \`npm test\` installs it when run as root)`;
  }
}

/** The first reason among several, for a test needing more than one program. */
export function whyNoPrograms(...needs: [program: string, pkg: string, versionFlag?: string][]): string | undefined {
  for (const [program, pkg, flag] of needs) {
    const why = whyNoProgram(program, pkg, flag);
    if (why) return why;
  }
  return undefined;
}

/** Says on stderr which test is skipped and why (vitest shows a skipped test's name, not its reason). */
export function warnSkip(what: string, why: string | undefined): void {
  if (why) console.warn(`skipping ${what}: ${why}`);
}
