import { describe, expect, it } from 'vitest';
import { connectionKey, type SocketRow } from '../../src/core/connection.js';
import type { TrackedConnection } from '../../src/core/tracker.js';
import { formatEventLine } from '../../src/output/events.js';

// An event line names a listener's peer as list does (`0.0.0.0:*`), also when the owner comes
// from watch's kept owners rather than the row (the line's flow is then a few fields of the row:
// the state among them, or the peer read `0.0.0.0:0`: new-user pass on merged main).

const listener: SocketRow = { protocol: 'tcp', local: { address: '0.0.0.0', port: 8080 }, remote: { address: '0.0.0.0', port: 0 }, state: 'LISTEN', rawState: 'LISTEN', inode: 901 };
const connection = {
  key: connectionKey(listener),
  row: listener,
  firstSeenMs: 0,
  lastSeenMs: 0,
  stateSinceMs: 0,
  dwellSource: 'observed',
  transitions: [{ state: 'LISTEN', atMs: 0 }],
} as unknown as TrackedConnection;

describe("an event line's flow", () => {
  it("a listener's peer is 0.0.0.0:* with its owner from the row or from watch's kept owners", () => {
    expect(formatEventLine({ type: 'opened', atMs: 0, connection, firstSight: false }, { pid: 812, process: 'nginx' })).toContain('LISTEN 0.0.0.0:8080 -> 0.0.0.0:* nginx[812]');
    const owned = { ...connection, row: { ...listener, pid: 812, process: 'nginx' } } as TrackedConnection;
    expect(formatEventLine({ type: 'opened', atMs: 0, connection: owned, firstSight: false })).toContain('LISTEN 0.0.0.0:8080 -> 0.0.0.0:* nginx[812]');
  });
});
