import type { SocketRow } from '../core/connection.js';
import type { Platform } from '../platform/platform.js';
import { killSocket, refusalReason, type KillOutcome } from './linux/socket-killer.js';
import { killWindowsSocket, windowsRefusalReason } from './windows/socket-killer-windows.js';

export type { KillOutcome };

// `reset`, per OS: Linux through SOCK_DESTROY (ss -K), Windows through SetTcpEntry.

/** Why this row must not or cannot be ended here, or undefined when it may be. */
export function resetRefusal(platform: Platform, row: SocketRow): string | undefined {
  return refusalReason(row) ?? (platform.os === 'win32' ? windowsRefusalReason(row) : undefined);
}

export function endSocket(platform: Platform, row: SocketRow): Promise<KillOutcome> {
  if (platform.os !== 'win32') return killSocket(platform, row); // refuses what it must itself
  const refusal = refusalReason(row);
  return refusal ? Promise.resolve({ ended: false, reason: refusal }) : killWindowsSocket(platform, row);
}
