import type { SocketRow } from '../../core/connection.js';
import { errorCode, type Platform } from '../../platform/platform.js';
import type { KillOutcome } from '../linux/socket-killer.js';

// Ending one connection on Windows: SetTcpEntry with MIB_TCP_STATE_DELETE_TCB (12), the only state
// it accepts, through PowerShell's P/Invoke. The script is fixed and passed encoded; the
// connection reaches it in environment variables, so no table data ever becomes script text.
// SetTcpEntry takes a MIB_TCPROW: IPv4 only (there is no IPv6 form), Administrator only.

export const END_CONNECTION_SCRIPT = [
  "$ErrorActionPreference = 'Stop'",
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
  "'SetTcpEntry=' + [TcpDwell.Native]::SetTcpEntry([ref]$row)",
].join('\n');

/** powershell.exe with the fixed script (EncodedCommand: base64 of UTF-16LE). */
export function windowsKillArgv(): string[] {
  return ['powershell.exe', '-NoLogo', '-NoProfile', '-NonInteractive', '-EncodedCommand', Buffer.from(END_CONNECTION_SCRIPT, 'utf16le').toString('base64')];
}

export function windowsKillEnv(row: SocketRow): Record<string, string> {
  return {
    TCPDWELL_LOCAL_ADDRESS: row.local.address,
    TCPDWELL_LOCAL_PORT: String(row.local.port),
    TCPDWELL_REMOTE_ADDRESS: row.remote.address,
    TCPDWELL_REMOTE_PORT: String(row.remote.port),
  };
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Why Windows cannot end this row, beyond the rules every platform shares. */
export function windowsRefusalReason(row: SocketRow): string | undefined {
  if (!IPV4.test(row.local.address) || !IPV4.test(row.remote.address)) return 'Windows can end IPv4 connections only (SetTcpEntry has no IPv6 form)';
  return undefined;
}

// SetTcpEntry's documented answers.
const SET_TCP_ENTRY_ERRORS: Record<number, string> = {
  5: 'permission denied: ending connections needs an elevated Administrator shell (SetTcpEntry returned 5)',
  317: 'permission denied: not running elevated (SetTcpEntry returned 317)',
  87: 'Windows rejected the request (SetTcpEntry returned 87, invalid parameter)',
  50: 'IPv4 is not configured on this computer (SetTcpEntry returned 50)',
};

export async function killWindowsSocket(platform: Platform, row: SocketRow): Promise<KillOutcome> {
  const refusal = windowsRefusalReason(row);
  if (refusal) return { ended: false, reason: refusal };
  let result;
  try {
    result = await platform.run(windowsKillArgv(), { timeoutMs: 30_000, env: windowsKillEnv(row) });
  } catch (error) {
    return { ended: false, reason: errorCode(error) === 'ENOENT' ? 'PowerShell (powershell.exe) is not available' : (error as Error).message };
  }
  const answer = /SetTcpEntry=(\d+)/.exec(result.stdout);
  if (!answer) return { ended: false, reason: `PowerShell did not run SetTcpEntry: ${result.stderr.trim().split('\n')[0] || `exit code ${result.exitCode}`}` };
  const code = Number(answer[1]);
  if (code === 0) return { ended: true };
  return { ended: false, reason: SET_TCP_ENTRY_ERRORS[code] ?? `SetTcpEntry returned ${code}` };
}
