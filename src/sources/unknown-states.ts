import type { SocketRow } from '../core/connection.js';
import { plural } from '../core/plural.js';
import { TcpState } from '../core/tcp-state.js';

/** One notice naming the state words nobody knows, for any source. */
export function unknownStateNotices(rows: readonly SocketRow[], format: string, label: string): string[] {
  const words = new Set(rows.filter((r) => r.state === TcpState.UNKNOWN).map((r) => r.rawState));
  if (words.size === 0) return [];
  const count = rows.filter((r) => r.state === TcpState.UNKNOWN).length;
  const advice = format === 'windows-netstat' ? '; `--source powershell` (Get-NetTCPConnection) reports states that are not translated' : '';
  return [`${label}: ${plural(count, 'row')} ${count === 1 ? 'has a state word' : 'have state words'} tcpdwell does not know (${[...words].slice(0, 5).join(', ')}), shown as UNKNOWN${advice}`];
}
