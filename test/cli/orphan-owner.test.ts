import { describe, expect, it } from 'vitest';
import { parkSocketsHost, runOn, ssAnswers } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// An orphaned socket (LAST_ACK after its owner closed it: inode 0, no process holds it) is named
// by `watch` with the owner kept from before. Shown as the current owner, it contradicted a rule on
// process names that did not apply to it (no owner now): it is shown as what it is, the last one.

const SS_PARK = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');
// Written for the test from the capture: 15 s later python3's CLOSE_WAIT on 127.0.0.1:56580 has been
// closed by its owner: LAST_ACK, orphaned (the kernel shows ino:0 for a socket no file holds).
// And the one on 127.0.0.1:35170 shut down for writing (shutdown(SHUT_WR), not close()): LAST_ACK,
// its file still held by python3 (ino:6731 as before).
const ORPHANED = SS_PARK.replace('CLOSE-WAIT 1      0               127.0.0.1:35170', 'LAST-ACK   1      0               127.0.0.1:35170').replace(
  'CLOSE-WAIT 1      0               127.0.0.1:56580          127.0.0.1:45219 ino:6737',
  'LAST-ACK   1      0               127.0.0.1:56580          127.0.0.1:45219 ino:0   ',
);

describe('watch: the owner of an orphaned socket', () => {
  it('is named as the last one, not as its owner now; a socket still held is named as its owner', async () => {
    const platform = parkSocketsHost();
    platform.commands = [ssAnswers(SS_PARK), ssAnswers(ORPHANED)];
    const { code, out } = await runOn(platform, ['watch', '--source', 'ss', '--iterations', '2', '--interval', '15s', '--half-close', '1h']);
    expect(code).toBe(0);
    const changed = out.split('\n').find((l) => l.includes('changed CLOSE_WAIT -> LAST_ACK 127.0.0.1:56580'));
    expect(changed).toMatch(/ 127\.0\.0\.1:56580 -> 127\.0\.0\.1:45219 \(no process holds it now; last held by python3\[4242\]\)$/);
    // The socket python3 still holds is named with its owner as it is now.
    expect(out).toMatch(/changed CLOSE_WAIT -> LAST_ACK 127\.0\.0\.1:35170 -> 127\.0\.0\.1:47537 python3\[4242\]$/m);
    expect(out).not.toMatch(/LAST_ACK 127\.0\.0\.1:56580 -> 127\.0\.0\.1:45219 python3\[4242\]/);
  });
});
