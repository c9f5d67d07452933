import { errnoWords } from '../platform/errors.js';
import { errorCode, type Platform } from '../platform/platform.js';
import type { Availability } from './source-record.js';

// The cheap checks that sources' probes are made of.

/** Available when `argv` runs and exits 0; `missing` when the program is not there. */
export async function probeRuns(platform: Platform, argv: readonly string[], missing: string): Promise<Availability> {
  try {
    const result = await platform.run(argv, { timeoutMs: 15_000 });
    return result.exitCode === 0 ? { available: true } : { available: false, reason: `${argv.join(' ')} exited with ${result.exitCode}` };
  } catch (error) {
    return { available: false, reason: errorCode(error) === 'ENOENT' ? missing : (error as Error).message };
  }
}

/** Available when the file can be read. */
export async function probeReadable(platform: Platform, path: string): Promise<Availability> {
  try {
    await platform.readText(path);
    return { available: true };
  } catch (error) {
    return { available: false, reason: errorCode(error) === 'ENOENT' ? `${path} does not exist` : `${path}: ${errnoWords(error)}` };
  }
}
