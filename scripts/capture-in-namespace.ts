// The entry point the kernel-capture scripts share: run as `tsx SCRIPT [out-dir]`, the script
// parks scripts/park-sockets.py's sessions in a fresh network namespace (test/e2e/parked-namespace.ts)
// and re-runs itself inside it with `--inside OUT-DIR`, where `inside` writes the captures.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParkedNamespace } from '../test/e2e/parked-namespace.js';

/** The repository's root (captures go to its test/fixtures by default). */
export const REPOSITORY_ROOT = resolve(fileURLToPath(import.meta.url), '../..');

/** Host byte order: the kernel answers netlink in it. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Runs `inside(outDir)` in a namespace holding parked sessions; `scriptUrl` is the calling script's
 * import.meta.url. `done` says what was written, once the inner run has ended. The namespace and
 * its processes are removed whether or not the capture succeeds.
 */
export async function captureInParkedNamespace(scriptUrl: string, inside: (outDir: string) => Promise<void>, done: (outDir: string, ns: ParkedNamespace) => string): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--inside') return inside(resolve(args[1] ?? join(REPOSITORY_ROOT, 'test/fixtures')));
  const outDir = resolve(args[0] ?? join(REPOSITORY_ROOT, 'test/fixtures'));
  const ns = new ParkedNamespace();
  try {
    await ns.start();
    ns.exec([process.execPath, '--import', 'tsx', fileURLToPath(scriptUrl), '--inside', outDir]);
    console.log(done(outDir, ns));
  } finally {
    ns.stop();
  }
}
