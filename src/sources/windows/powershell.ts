import { connectionKey, type SocketRow } from '../../core/connection.js';
import { TcpState } from '../../core/tcp-state.js';
import { errorCode, type CommandSession, type Platform } from '../../platform/platform.js';
import { unknownStateNotices } from '../unknown-states.js';
import { SourceError, SourceUnavailableError, summarizeProblems, type SocketSource, type SourceReading } from '../source.js';
import { UnusableInputError } from '../unusable-input.js';
import { parseGetNetTcpConnection } from './parse-get-nettcpconnection.js';
import { ProcessNames } from './process-names.js';

// Get-NetTCPConnection through one long-lived PowerShell: its start-up (about a second) is paid
// once, not each poll. States are the numeric enum (not localized); CreationTime is written in
// UTC ISO form, so neither the culture nor the PowerShell edition changes what we parse.

export const POWERSHELL_ARGV = ['powershell.exe', '-NoLogo', '-NoProfile', '-NonInteractive', '-Command', '-'] as const;
export const END_MARKER = '__tcpdwell_end__';
// A fixed text: nothing from the user or the table is ever put into it.
export const QUERY =
  "$ProgressPreference='SilentlyContinue'; @(Get-NetTCPConnection -ErrorAction SilentlyContinue | ForEach-Object { [pscustomobject]@{ LocalAddress=$_.LocalAddress; LocalPort=$_.LocalPort; RemoteAddress=$_.RemoteAddress; RemotePort=$_.RemotePort; State=[int]$_.State; OwningProcess=$_.OwningProcess; CreationTime=$_.CreationTime.ToUniversalTime().ToString('o') } }) | ConvertTo-Json -Compress; " +
  `Write-Output '${END_MARKER}'\n`;
const ANSWER_TIMEOUT_MS = 60_000;

export class PowerShellSource implements SocketSource {
  readonly name = 'powershell' as const;
  private session: CommandSession | undefined;
  private readonly names = new ProcessNames();

  async read(platform: Platform): Promise<SourceReading> {
    this.session ??= platform.openSession(POWERSHELL_ARGV);
    let answer: string;
    try {
      answer = await this.session.exchange(QUERY, END_MARKER, ANSWER_TIMEOUT_MS);
    } catch (error) {
      this.close(); // the next poll starts a fresh PowerShell
      if (errorCode(error) === 'ENOENT') throw new SourceUnavailableError('PowerShell (powershell.exe) is not available', { cause: error });
      throw new SourceError(`Get-NetTCPConnection failed: ${(error as Error).message}`);
    }
    const takenAtMs = platform.nowMs();
    let parsed;
    try {
      parsed = parseGetNetTcpConnection(answer, { takenAtMs });
    } catch (error) {
      if (error instanceof UnusableInputError) throw new SourceError(`Get-NetTCPConnection: ${error.message}`, { cause: error });
      throw error;
    }
    const rows = await this.names.name(platform, parsed.rows, undefined);
    return {
      source: 'powershell',
      // The time createdAgoMs is relative to (reset checks a connection's creation time by it), not after the names.
      takenAtMs,
      rows,
      completeProtocols: ['tcp', 'tcp6'],
      notices: [...summarizeProblems('Get-NetTCPConnection', parsed.problems), ...unknownStateNotices(rows, 'powershell', 'Get-NetTCPConnection')],
      // ConvertTo-Json writes nothing for an empty pipeline, which is also what a failed
      // Get-NetTCPConnection (-ErrorAction SilentlyContinue) leaves: only `[]` is an empty table.
      emptyTableProven: /^\s*\[\s*\]\s*$/.test(answer),
      // tasklist failed: a name not read is not "no such process" (a rule on process names is not judged).
      ...(this.names.unread ? { ownersHidden: true } : {}),
    };
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}

/**
 * netstat rows with what Get-NetTCPConnection adds for the same connection: its creation time, and
 * its state where netstat's word was unknown. Rows only one side lists stay as netstat gave them.
 */
export function mergeCreationTimes(netstatRows: readonly SocketRow[], powershellRows: readonly SocketRow[]): SocketRow[] {
  const byKey = new Map(powershellRows.map((r) => [connectionKey(r), r]));
  return netstatRows.map((row) => {
    const other = byKey.get(connectionKey(row));
    if (!other) return row;
    const merged: SocketRow = { ...row };
    if (other.createdAgoMs !== undefined) merged.createdAgoMs = other.createdAgoMs;
    if (row.state === TcpState.UNKNOWN && other.state !== TcpState.UNKNOWN) merged.state = other.state;
    return merged;
  });
}
