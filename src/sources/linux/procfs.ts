import type { Protocol } from '../../core/address.js';
import type { SocketRow } from '../../core/connection.js';
import { errorCode, type Platform } from '../../platform/platform.js';
import { UnusableInputError } from '../unusable-input.js';
import { SourceError, summarizeProblems, type SocketSource, type SourceReading } from '../source.js';
import { parseProcNetTcp } from './parse-procfs.js';

const TABLES: { protocol: Protocol; file: string }[] = [
  { protocol: 'tcp', file: 'net/tcp' },
  { protocol: 'tcp6', file: 'net/tcp6' },
];

export const procfsSource: SocketSource = {
  name: 'procfs',
  async read(platform: Platform, { procRoot }): Promise<SourceReading> {
    const rows: SocketRow[] = [];
    const notices: string[] = [];
    const completeProtocols: Protocol[] = [];
    const failures: string[] = [];
    let readAny = false;
    for (const { protocol, file } of TABLES) {
      const path = `${procRoot}/${file}`;
      let text: string;
      try {
        text = await platform.readText(path);
      } catch (error) {
        // No tcp6 file beside a readable tcp file means IPv6 is off: an empty table, read in full.
        if (protocol === 'tcp6' && errorCode(error) === 'ENOENT' && readAny) {
          completeProtocols.push(protocol);
          continue;
        }
        const code = errorCode(error);
        failures.push(`cannot read ${path}: ${code === 'EACCES' ? 'permission denied' : code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
        continue;
      }
      try {
        const parsed = parseProcNetTcp(text, { littleEndian: platform.littleEndian });
        readAny = true;
        rows.push(...parsed.rows);
        notices.push(...summarizeProblems(path, parsed.problems));
        completeProtocols.push(protocol);
      } catch (error) {
        if (!(error instanceof UnusableInputError)) throw error;
        failures.push(`${path}: ${error.message}`);
      }
    }
    if (completeProtocols.length === 0) throw new SourceError(failures.join('; '));
    notices.push(...failures);
    return { source: 'procfs', rows, completeProtocols, notices };
  },
};
