import type { Platform } from '../platform/platform.js';
import { NetnsProvider } from './linux/netns-provider.js';
import type { NetnsMethod } from './linux/netns-reader.js';
import { discoverNamespaces, selectNamespaces } from './linux/netns.js';
import type { NetnsChoice } from './netns-choice.js';
import { liveRecord, type LiveSourceName, type SourceChoice } from './registry.js';
import { SourceError, type ReadingProvider } from './source.js';

/**
 * The provider that reads the namespaces `choice` selects through `source`: auto (ss through
 * nsenter, else procfs) or a source whose record declares the `netns` capability. Owners come in
 * its rows (found among each namespace's own processes); it gives no host facts (/proc/sys/net is
 * this process's namespace, not the rows'). Throws SourceError on another OS or with another source.
 */
export function createNetnsProvider(platform: Platform, options: { choice: NetnsChoice; source: SourceChoice; procRoot: string }): ReadingProvider {
  if (platform.os !== 'linux') throw new SourceError(`--netns reads Linux network namespaces; this is ${platform.os}`);
  if (options.source !== 'auto' && !liveRecord(options.source as LiveSourceName).live.capabilities.netns) {
    throw new SourceError(`--netns reads namespaces through ss or procfs, not --source ${options.source}`);
  }
  return new NetnsProvider(platform, { ...options, source: options.source as 'auto' | NetnsMethod });
}

/** The inodes of the namespaces a `--netns` NAME, PID or PATH names now; none when it names nothing (or /proc cannot be listed). */
export async function resolveNetnsInodes(platform: Platform, choice: NetnsChoice, procRoot: string): Promise<number[]> {
  try {
    const { namespaces } = await discoverNamespaces(platform, procRoot);
    return (await selectNamespaces(choice, namespaces, (path) => platform.readLink(path), procRoot)).map((ns) => ns.inode);
  } catch {
    return [];
  }
}
