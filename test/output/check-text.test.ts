import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { formatFlaggedLine } from '../../src/output/check-text.js';
import { closeWait, viewsAfterAMinute } from '../tracked-rows.js';

const flaggedLine = (row: SocketRow): string | undefined => formatFlaggedLine(viewsAfterAMinute([row])[0]!);

describe('formatFlaggedLine names what was measured', () => {
  it('the half-close timer where the source gives segment times (ss lastack), the time in state where it does not (procfs)', () => {
    expect(flaggedLine(closeWait({ activity: { lastPeerSegmentAgoMs: 50_000 } }))).toMatch(/ half-close timer 50s > 30s /);
    expect(flaggedLine(closeWait({}))).toMatch(/ in state 1m00s > 30s /);
  });
});
