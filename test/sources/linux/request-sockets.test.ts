import { describe, expect, it } from 'vitest';
import { kernelStateAgeMs } from '../../../src/core/kernel-dwell.js';
import { ssSource } from '../../../src/sources/linux/ss.js';
import { FakePlatform, ssAnswers } from '../../fake-platform.js';
import { readFixture } from '../../fixture.js';

// The two captures of test/fixtures were taken one after the other from the same namespace: the
// request socket 127.0.0.1:43211 <- 127.0.0.1:35576 (TCP_DEFER_ACCEPT) is in both, ss printing its
// SYN/ACK retransmissions (0) and procfs its timer's expiries (3).
const SS = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
const PROC = readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt');

function platformWith(procfs: boolean): FakePlatform {
  const platform = new FakePlatform();
  platform.commands = [ssAnswers(SS)];
  if (procfs) {
    const split = PROC.indexOf('  sl', PROC.indexOf('  sl') + 1);
    platform.files.set('/proc/net/tcp', PROC.slice(0, split));
    platform.files.set('/proc/net/tcp6', PROC.slice(split));
  }
  return platform;
}

describe('the ss source completes request sockets from procfs', () => {
  it('takes the timeout count and timer of SYN_RECEIVED rows from /proc/net/tcp, so their age is proven at first sight', async () => {
    const reading = await ssSource.read(platformWith(true), { procRoot: '/proc' });
    const request = reading.rows.find((r) => r.state === 'SYN_RECEIVED')!;
    expect(request).toMatchObject({ local: { port: 43211 }, remote: { port: 35576 }, retransmits: 3, timer: { name: 'on', remainingMs: 3510 } });
    // 1 + 2 + 4 s of expired timeouts, and 4.49 s of the current 8 s one.
    expect(kernelStateAgeMs(request)).toBe(11_490);
    // ss ran without -e (no inodes): the same procfs read gives every row its inode, for owners.
    expect(reading.rows.find((r) => r.local.port === 34928)).toMatchObject({ state: 'CLOSE_WAIT', inode: 233576 });
    expect(reading.rows.every((r) => r.inode !== undefined)).toBe(true);
    // Only request sockets are touched: the SYN_SENT keeps ss's own figures.
    expect(reading.rows.find((r) => r.state === 'SYN_SENT')).toMatchObject({ retransmits: 7, timer: { remainingMs: 7644 } });
  });

  it('keeps ss figures (which prove nothing here) when procfs cannot be read', async () => {
    const reading = await ssSource.read(platformWith(false), { procRoot: '/proc' });
    const request = reading.rows.find((r) => r.state === 'SYN_RECEIVED')!;
    expect(request).toMatchObject({ retransmits: 0, timer: { remainingMs: 3548 } });
    expect(kernelStateAgeMs(request)).toBeUndefined();
  });

  it('reads procfs only when the table has a request socket', async () => {
    const platform = platformWith(true);
    platform.commands = [
      ssAnswers(
        SS.split('\n')
          .filter((l, i, all) => !l.startsWith('SYN-RECV') && !all[i - 1]?.startsWith('SYN-RECV'))
          .join('\n'),
      ),
    ];
    const reading = await ssSource.read(platform, { procRoot: '/proc' });
    expect(reading.rows.some((r) => r.state === 'SYN_RECEIVED')).toBe(false);
    expect(platform.readPaths.filter((p) => p.includes('/net/tcp'))).toEqual([]);
  });
});
