import type { SocketSource } from '../source.js';
import { readHostFacts } from '../linux/host-facts.js';
import { defineSource } from '../source-record.js';
import { SystemInformationSource } from './systeminformation.js';

// The systeminformation library's registry record (registry.ts lists it).

export const systeminformationRecord = defineSource({
  name: 'systeminformation',
  vocabulary: 'systeminformation',
  live: {
    capabilities: { owners: 'in-rows', hostFacts: true, activity: false, firstSight: [] },
    summary: {
      platforms: 'anywhere the library runs (macOS, BSD, Linux via netstat -tunap)',
      owners: 'from the library',
      activity: 'no',
      firstSightDwell: 'none',
    },
    docs: {
      title: '`systeminformation` (anywhere)',
      reads: "the library's `networkConnections()`; on Linux it runs `netstat -tunap` (or `ss -tunap`) through a shell and passes their words through as printed",
      pid: 'from the library',
      activity: 'no',
      firstSight: 'none',
    },
    probe: async (platform) => {
      try {
        await import('systeminformation');
        return platform.os === 'linux' ? { available: true, reason: 'runs netstat -tunap or ss -tunap through a shell' } : { available: true };
      } catch (error) {
        return { available: false, reason: `the library does not load: ${(error as Error).message}` };
      }
    },
    create: (): SocketSource => new SystemInformationSource(),
    // Last everywhere it is tried; Linux has ss and procfs.
    auto: { rank: 90, when: (os) => os !== 'linux', fallback: { shownAs: 'the systeminformation library', limits: 'states and owners only: no idle, no first-sight dwell' } },
    // On Linux its rows are this host's, whose /proc/sys has the settings; elsewhere there is none.
    hostFacts: (platform, { procRoot }) => (platform.os === 'linux' ? readHostFacts(platform, procRoot) : Promise.resolve({})),
    nothingReadHint: 'the library answers an empty list when its command (netstat or ss) fails',
  },
});
