import type { Platform } from '../platform/platform.js';
import { NetnsProvider, type NetnsProviderOptions } from './linux/netns-provider.js';
import type { NetnsMethod } from './linux/netns-reader.js';
import { discoverNamespaces, selectNamespaces } from './linux/netns.js';
import type { NetnsChoice } from './netns-choice.js';
import { LIVE_SOURCES, liveRecord, type LiveSourceName, type SourceChoice } from './registry.js';
import type { AutoOptions } from './source-record.js';
import { SourceError, type ReadingProvider } from './source.js';

/**
 * The provider that reads the namespaces `choice` selects through `source`: auto (netlink, else ss
 * through nsenter, else procfs; `auto` says whether netlink is tried and with what) or a source
 * whose record declares the `netns` capability. Owners come in its rows (found among each
 * namespace's own processes); it gives no host facts (/proc/sys/net is this process's namespace,
 * not the rows'). Throws SourceError on another OS or with another source.
 */
export function createNetnsProvider(platform: Platform, options: { choice: NetnsChoice; source: SourceChoice; procRoot: string }, auto: AutoOptions = {}): ReadingProvider {
  if (platform.os !== 'linux') throw new SourceError(`--netns reads Linux network namespaces; this is ${platform.os}`);
  if (options.source !== 'auto' && !liveRecord(options.source as LiveSourceName).live.capabilities.netns) {
    const through = LIVE_SOURCES.filter((record) => record.live.capabilities.netns).map((record) => record.name);
    throw new SourceError(`--netns reads namespaces through ${through.slice(0, -1).join(', ')} or ${through.at(-1)} (or auto), not --source ${options.source}`);
  }
  const provider: NetnsProviderOptions = { ...options, source: options.source as 'auto' | NetnsMethod };
  if (auto.netlinkFirst !== undefined) provider.netlinkFirst = auto.netlinkFirst;
  if (auto.netlink) provider.netlink = auto.netlink;
  return new NetnsProvider(platform, provider);
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
