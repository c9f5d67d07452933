import type { SocketRow } from '../core/connection.js';
import type { Platform } from '../platform/platform.js';
import { refusalReason, SocketKiller, type KillMethod, type KillOutcome, type SocketKillerOptions } from './linux/socket-killer.js';
import { killWindowsSocket, windowsRefusalReason } from './windows/socket-killer-windows.js';

export type { KillMethod, KillOutcome };

// `reset`, per OS: Linux through SOCK_DESTROY (our own request with the socket cookie where the row
// has one, else ss -K), Windows through SetTcpEntry.

/** Why this row must not or cannot be ended here, or undefined when it may be. */
export function resetRefusal(platform: Platform, row: SocketRow): string | undefined {
  return refusalReason(row) ?? (platform.os === 'win32' ? windowsRefusalReason(row) : undefined);
}

/** Ends sockets one after another; `close` frees what it holds (the sock_diag worker on Linux). */
export interface SocketEnder {
  end(row: SocketRow): Promise<KillOutcome>;
  close(): void;
}

export interface SocketEnderOptions extends SocketKillerOptions {
  /** When the poll read the rows to end (ms, the platform clock): Windows checks a row's creation time by it. */
  readAtMs?: number;
}

/** One ender for a run that may end many sockets: on Linux one sock_diag channel serves them all. */
export function socketEnder(platform: Platform, options: SocketEnderOptions = {}): SocketEnder {
  if (platform.os !== 'win32') {
    const killer = new SocketKiller(platform, options); // refuses what it must itself
    return { end: (row) => killer.kill(row), close: () => killer.close() };
  }
  return {
    end: (row) => {
      const refusal = refusalReason(row);
      return refusal ? Promise.resolve({ ended: false, reason: refusal }) : killWindowsSocket(platform, row, options.readAtMs).then((outcome): KillOutcome => ({ ...outcome, via: 'SetTcpEntry' }));
    },
    close: () => undefined,
  };
}

/** Ends one socket. */
export async function endSocket(platform: Platform, row: SocketRow): Promise<KillOutcome> {
  const ender = socketEnder(platform);
  try {
    return await ender.end(row);
  } finally {
    ender.close();
  }
}
