import type { Platform } from '../platform/platform.js';
import { procfsSource } from './linux/procfs.js';
import { ssSource } from './linux/ss.js';
import { SourceError, SourceUnavailableError, type SocketSource, type SourceChoice, type SourceOptions, type SourceReading } from './source.js';

const SOURCES: Record<Exclude<SourceChoice, 'auto'>, SocketSource> = { ss: ssSource, procfs: procfsSource };

// `auto`, richest first: ss has tcp_info (activity, RTT, backoff); procfs has states and timers only.
const AUTO_ORDER: SocketSource[] = [ssSource, procfsSource];

/**
 * Reads through the chosen source. With `auto`, a missing `ss` degrades to procfs once, with one
 * notice, and the choice sticks for later polls. A non-default proc root means a foreign /proc
 * (a container's host view) that `ss` cannot see, so auto reads procfs there.
 */
export class SourceSelector {
  private resolved: SocketSource | undefined;
  private pendingNotice: string | undefined;

  constructor(
    private readonly choice: SourceChoice,
    private readonly platform: Platform,
    private readonly options: SourceOptions,
  ) {
    if (choice !== 'auto') this.resolved = SOURCES[choice];
    else if (options.procRoot !== '/proc') this.resolved = procfsSource;
  }

  get name(): string {
    return this.resolved?.name ?? this.choice;
  }

  async read(): Promise<SourceReading> {
    if (this.resolved) return this.withNotice(await this.resolved.read(this.platform, this.options));
    let lastError: SourceError | undefined;
    for (const source of AUTO_ORDER) {
      try {
        const reading = await source.read(this.platform, this.options);
        this.resolved = source;
        return this.withNotice(reading);
      } catch (error) {
        if (!(error instanceof SourceUnavailableError)) throw error;
        lastError = error;
        this.pendingNotice = `${error.message}; using /proc/net/tcp instead (no activity data: idle and half-close restarts are not measured)`;
      }
    }
    throw lastError ?? new SourceError('no source available');
  }

  private withNotice(reading: SourceReading): SourceReading {
    if (!this.pendingNotice) return reading;
    const notice = this.pendingNotice;
    this.pendingNotice = undefined;
    return { ...reading, notices: [notice, ...reading.notices] };
  }
}
