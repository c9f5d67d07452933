import type { SocketRow } from '../../core/connection.js';
import { vocabularyTable } from '../../core/state-vocabularies.js';
import type { TcpState } from '../../core/tcp-state.js';
import { errorCode, type Platform } from '../../platform/platform.js';
import type { KillOutcome } from '../linux/socket-killer.js';

// Ending one connection on Windows: SetTcpEntry with MIB_TCP_STATE_DELETE_TCB (12), the only state
// it accepts, through PowerShell's P/Invoke. The script is fixed and passed encoded; the
// connection reaches it in environment variables, so no table data ever becomes script text.
// SetTcpEntry takes a MIB_TCPROW: IPv4 only (there is no IPv6 form), Administrator only.
//
// SetTcpEntry names a connection by its 4-tuple alone, whatever its state and age: it would end a
// session that has moved on since the poll (SYN_SENT → ESTABLISHED) or a newer connection that
// took the 4-tuple over. So the same script first looks the 4-tuple up (Get-NetTCPConnection) and
// calls SetTcpEntry only if exactly one connection holds it, in the state seen, with the owner and
// creation time seen (where the poll had them): the rule Linux applies with the socket cookie, with
// the creation time standing in for the cookie. The window left is the few milliseconds between
// the lookup and the call, not a poll interval.
export const END_CONNECTION_SCRIPT = [
  "$ErrorActionPreference = 'Stop'",
  "$ProgressPreference = 'SilentlyContinue'",
  '$signature = \'[StructLayout(LayoutKind.Sequential)] public struct MIB_TCPROW { public uint dwState; public uint dwLocalAddr; public uint dwLocalPort; public uint dwRemoteAddr; public uint dwRemotePort; } [DllImport("iphlpapi.dll")] public static extern uint SetTcpEntry(ref MIB_TCPROW row);\'',
  'Add-Type -Namespace TcpDwell -Name Native -MemberDefinition $signature -UsingNamespace System.Runtime.InteropServices',
  // Address bytes in network order read as the little-endian DWORD the struct wants.
  'function Address($text) { [BitConverter]::ToUInt32([Net.IPAddress]::Parse($text).GetAddressBytes(), 0) }',
  // The port in network byte order, in the low 16 bits.
  'function Port($text) { $n = [uint32]$text; (($n -band 0xFF) -shl 8) -bor ($n -shr 8) }',
  '$row = New-Object TcpDwell.Native+MIB_TCPROW',
  '$row.dwState = 12',
  '$row.dwLocalAddr = Address $env:TCPDWELL_LOCAL_ADDRESS',
  '$row.dwLocalPort = Port $env:TCPDWELL_LOCAL_PORT',
  '$row.dwRemoteAddr = Address $env:TCPDWELL_REMOTE_ADDRESS',
  '$row.dwRemotePort = Port $env:TCPDWELL_REMOTE_PORT',
  // The connection holding the 4-tuple now. Nothing found is CIM's ObjectNotFound error, an empty
  // list here; any other failure (WMI/CIM broken) stops the script: its state now is not known.
  "try { $now = @(Get-NetTCPConnection -LocalAddress $env:TCPDWELL_LOCAL_ADDRESS -LocalPort $env:TCPDWELL_LOCAL_PORT -RemoteAddress $env:TCPDWELL_REMOTE_ADDRESS -RemotePort $env:TCPDWELL_REMOTE_PORT -ErrorAction Stop) } catch { if ($_.CategoryInfo.Category -eq 'ObjectNotFound') { $now = @() } else { throw } }",
  "'Found=' + $now.Count",
  'if ($now.Count -ne 1) { return }',
  '$c = $now[0]',
  '$created = ([DateTimeOffset]$c.CreationTime.ToUniversalTime()).ToUnixTimeMilliseconds()',
  "'StateNow=' + [int]$c.State",
  "'OwningProcess=' + $c.OwningProcess",
  "'CreatedUnixMs=' + $created",
  'if ([int]$c.State -ne [int]$env:TCPDWELL_STATE) { return }',
  // Unset (unknown to the poll) is $null, and a condition on it is false.
  'if ($env:TCPDWELL_PID -and [uint32]$env:TCPDWELL_PID -ne [uint32]$c.OwningProcess) { return }',
  'if ($env:TCPDWELL_CREATED_UNIX_MS -and [Math]::Abs($created - [int64]$env:TCPDWELL_CREATED_UNIX_MS) -gt [int64]$env:TCPDWELL_CREATED_TOLERANCE_MS) { return }',
  "'SetTcpEntry=' + [TcpDwell.Native]::SetTcpEntry([ref]$row)",
].join('\n');

/**
 * How far the creation time found may be from the one seen and still be the same connection (ms):
 * the poll's reading time is taken after its answer arrives (and owner names are read), so the
 * creation time derived from it is late by that much. A newer connection on the same 4-tuple
 * cannot start until the one seen is gone, and a session worth ending has dwelt longer than this.
 */
export const CREATED_TOLERANCE_MS = 5_000;

/** powershell.exe with the fixed script (EncodedCommand: base64 of UTF-16LE). */
export function windowsKillArgv(): string[] {
  return ['powershell.exe', '-NoLogo', '-NoProfile', '-NonInteractive', '-EncodedCommand', Buffer.from(END_CONNECTION_SCRIPT, 'utf16le').toString('base64')];
}

/** MIB_TCP_STATE numbers (the mib vocabulary, read backwards): what Get-NetTCPConnection's State is as [int]. */
const MIB_NUMBER_OF: ReadonlyMap<TcpState, number> = new Map(
  Object.entries(vocabularyTable('mib'))
    .filter(([word]) => /^\d+$/.test(word))
    .map(([word, state]) => [state, Number(word)]),
);

/**
 * The script's environment: the 4-tuple, and what the poll saw of the connection (its MIB state
 * number; its owner pid and creation time in Unix ms only where the poll had them, so the script
 * checks only what is known). `readAtMs`: when the poll read the row (its createdAgoMs is
 * relative to that reading).
 */
export function windowsKillEnv(row: SocketRow, readAtMs?: number): Record<string, string> {
  const createdAtMs = readAtMs !== undefined && row.createdAgoMs !== undefined ? Math.round(readAtMs - row.createdAgoMs) : undefined;
  const stateNumber = MIB_NUMBER_OF.get(row.state);
  return {
    TCPDWELL_LOCAL_ADDRESS: row.local.address,
    TCPDWELL_LOCAL_PORT: String(row.local.port),
    TCPDWELL_REMOTE_ADDRESS: row.remote.address,
    TCPDWELL_REMOTE_PORT: String(row.remote.port),
    ...(stateNumber === undefined ? {} : { TCPDWELL_STATE: String(stateNumber) }),
    ...(row.pid === undefined ? {} : { TCPDWELL_PID: String(row.pid) }),
    ...(createdAtMs === undefined ? {} : { TCPDWELL_CREATED_UNIX_MS: String(createdAtMs), TCPDWELL_CREATED_TOLERANCE_MS: String(CREATED_TOLERANCE_MS) }),
  };
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Why Windows cannot end this row, beyond the rules every platform shares. */
export function windowsRefusalReason(row: SocketRow): string | undefined {
  // An IPv4-mapped row of an IPv6 socket is shown as IPv4, but it is in the IPv6 table SetTcpEntry cannot reach.
  if (row.protocol === 'tcp6' || !IPV4.test(row.local.address) || !IPV4.test(row.remote.address)) return 'Windows can end IPv4 connections only (SetTcpEntry has no IPv6 form)';
  return undefined;
}

// SetTcpEntry's documented answers.
const SET_TCP_ENTRY_ERRORS: Record<number, string> = {
  5: 'permission denied: ending connections needs an elevated Administrator shell (SetTcpEntry returned 5)',
  317: 'permission denied: not running elevated (SetTcpEntry returned 317)',
  87: 'Windows rejected the request (SetTcpEntry returned 87, invalid parameter)',
  50: 'IPv4 is not configured on this computer (SetTcpEntry returned 50)',
};

/**
 * Ends one IPv4 connection, only if the connection seen still holds its 4-tuple in the state seen
 * (and with the owner and creation time seen, where known); never throws. Outcomes: ended; gone
 * before the call (`alreadyGone`, nothing ended); left alone with `stateNow` (moved on) or
 * `reusedTuple` (a newer connection holds the 4-tuple); or not ended with the reason (not elevated,
 * PowerShell or Get-NetTCPConnection missing: the state now is then unknown, so nothing is ended).
 * `readAtMs`: when the poll read `row`, for its creation time.
 */
export async function killWindowsSocket(platform: Platform, row: SocketRow, readAtMs?: number): Promise<KillOutcome> {
  const refusal = windowsRefusalReason(row);
  if (refusal) return { ended: false, reason: refusal };
  const env = windowsKillEnv(row, readAtMs);
  if (env.TCPDWELL_STATE === undefined) return { ended: false, reason: `${row.state} has no MIB_TCP_STATE number to check it by: left alone` };
  let result;
  try {
    result = await platform.run(windowsKillArgv(), { timeoutMs: 30_000, env });
  } catch (error) {
    return { ended: false, reason: errorCode(error) === 'ENOENT' ? 'PowerShell (powershell.exe) is not available' : (error as Error).message };
  }
  const answer = (name: string) => new RegExp(`^${name}=(\\d+)\\s*$`, 'm').exec(result.stdout)?.[1];
  const found = answer('Found');
  if (found === undefined) {
    return { ended: false, reason: `its state now could not be checked (${result.stderr.trim().split('\n')[0] || `PowerShell exit code ${result.exitCode}`}), so it was left alone` };
  }
  if (found === '0') return { ended: true, alreadyGone: true };
  if (found !== '1') return { ended: false, reason: `${found} connections hold its 4-tuple now: it is not known which is the one seen, so it was left alone` };
  const stateNumber = answer('StateNow');
  const stateNow = stateNumber === undefined ? undefined : vocabularyTable('mib')[stateNumber];
  const pidNow = answer('OwningProcess');
  const createdNow = answer('CreatedUnixMs');
  const setTcpEntry = answer('SetTcpEntry');
  if (setTcpEntry === undefined) {
    if (stateNow === undefined || pidNow === undefined || createdNow === undefined) return { ended: false, reason: 'unreadable answer to the lookup of its state now: left alone' };
    const createdSeen = env.TCPDWELL_CREATED_UNIX_MS;
    const newer = (row.pid !== undefined && Number(pidNow) !== row.pid) || (createdSeen !== undefined && Math.abs(Number(createdNow) - Number(createdSeen)) > CREATED_TOLERANCE_MS);
    if (newer) {
      const seen = [row.pid !== undefined ? `pid ${row.pid}` : '', createdSeen !== undefined ? `created ${new Date(Number(createdSeen)).toISOString()}` : ''].filter(Boolean).join(', ');
      return {
        ended: false,
        reusedTuple: true,
        reason: `the connection seen (${seen}) is gone and a newer one (pid ${pidNow}, created ${new Date(Number(createdNow)).toISOString()}, ${stateNow}) holds its 4-tuple now: left alone`,
      };
    }
    if (stateNow !== row.state) return { ended: false, stateNow, reason: `its state moved on since the poll (${row.state} then, ${stateNow} now): left alone` };
    // The connection seen, as seen, and still no call: SetTcpEntry itself failed to run.
    return { ended: false, reason: `PowerShell did not run SetTcpEntry: ${result.stderr.trim().split('\n')[0] || `exit code ${result.exitCode}`}` };
  }
  const code = Number(setTcpEntry);
  if (code === 0) return { ended: true };
  return { ended: false, reason: SET_TCP_ENTRY_ERRORS[code] ?? `SetTcpEntry returned ${code}` };
}
