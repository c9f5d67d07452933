import type { SocketRow } from '../../core/connection.js';
import type { Platform } from '../../platform/platform.js';
import { decodeText } from '../decode-text.js';
import { parseTasklist } from './parse-tasklist.js';

export const TASKLIST_ARGV = ['tasklist', '/fo', 'csv', '/nh'] as const;

/**
 * pid → image name on Windows: one `tasklist` call per poll at most, and none while every pid in
 * the table is already known. A failed call leaves rows unnamed, never fails the poll.
 */
export class ProcessNames {
  private known = new Map<number, string>();
  /**
   * The last call's tasklist failed (missing, refused, a non-zero exit) and some row kept its pid
   * without a name: its name was not read, which is not "no such process" (SourceReading.ownersHidden).
   */
  unread = false;

  async name(platform: Platform, rows: SocketRow[], codePage: number | undefined): Promise<SocketRow[]> {
    let failed = false;
    if (rows.some((r) => r.pid !== undefined && r.process === undefined && !this.known.has(r.pid))) {
      try {
        const result = await platform.runBinary(TASKLIST_ARGV);
        if (result.exitCode === 0) this.known = parseTasklist(decodeText(result.stdout, codePage).text);
        else failed = true;
      } catch {
        failed = true; // tasklist missing or refused: rows keep their pid only
      }
    }
    let unnamed = false;
    const named = rows.map((row) => {
      const name = row.pid === undefined || row.process !== undefined ? undefined : this.known.get(row.pid);
      if (name === undefined && row.pid !== undefined && row.process === undefined) unnamed = true;
      return name === undefined ? row : { ...row, process: name };
    });
    this.unread = failed && unnamed;
    return named;
  }
}
