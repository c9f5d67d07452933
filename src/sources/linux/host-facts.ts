import type { HostFacts } from '../../core/diagnosis.js';
import type { Platform } from '../../platform/platform.js';

// Kernel settings the diagnosis compares against (/proc/sys is per network namespace).

/** "32768\t60999\n" → { low, high } */
export function parsePortRange(text: string): HostFacts['ephemeralPorts'] {
  const [low, high] = text.trim().split(/\s+/).map(Number);
  return low !== undefined && high !== undefined && Number.isInteger(low) && Number.isInteger(high) && low <= high ? { low, high } : undefined;
}

export async function readHostFacts(platform: Platform, procRoot: string): Promise<HostFacts> {
  const facts: HostFacts = {};
  const read = (name: string) => platform.readText(`${procRoot}/sys/net/ipv4/${name}`).catch(() => undefined);
  const [range, finTimeout] = await Promise.all([read('ip_local_port_range'), read('tcp_fin_timeout')]);
  const ports = range === undefined ? undefined : parsePortRange(range);
  if (ports) facts.ephemeralPorts = ports;
  const seconds = Number(finTimeout?.trim());
  if (finTimeout !== undefined && Number.isFinite(seconds)) facts.finTimeoutMs = seconds * 1000;
  return facts;
}
