import { errorCode, type Platform } from '../../platform/platform.js';
import { UnusableInputError } from '../unusable-input.js';
import { SourceError, SourceUnavailableError, readUptimeMs, summarizeProblems, type SocketSource, type SourceReading } from '../source.js';
import { parseSs } from './parse-ss.js';

// One fixed argv (ss's columns change with its flags): TCP, all states, numeric, timers (-o),
// tcp_info (-i), inode and uid (-e). No -H, so older iproute2 works too; the parser skips the header.
export const SS_ARGV = ['ss', '-t', '-a', '-n', '-o', '-i', '-e'] as const;

export const ssSource: SocketSource = {
  name: 'ss',
  async read(platform: Platform, { procRoot }): Promise<SourceReading> {
    let result;
    try {
      result = await platform.run(SS_ARGV, { timeoutMs: 30_000 });
    } catch (error) {
      if (errorCode(error) === 'ENOENT') throw new SourceUnavailableError('ss (iproute2) is not installed');
      throw new SourceError(`ss failed: ${(error as Error).message}`);
    }
    if (result.exitCode !== 0) {
      const reason = result.stderr.split('\n').find((l) => l.trim() && !l.includes('cgroup2')) ?? `exit code ${result.exitCode}`;
      throw new SourceError(`ss failed: ${reason.trim()}`);
    }
    try {
      const parsed = parseSs(result.stdout, { uptimeMs: await readUptimeMs(platform, procRoot) });
      return { source: 'ss', rows: parsed.rows, completeProtocols: ['tcp', 'tcp6'], notices: summarizeProblems('ss', parsed.problems) };
    } catch (error) {
      if (error instanceof UnusableInputError) throw new SourceError(`ss: ${error.message}`);
      throw error;
    }
  },
};
