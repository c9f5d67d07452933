import { describe, expect, it } from 'vitest';
import { DiagnosisIndex, diagnoseConnection } from '../../src/core/diagnosis.js';
import { evaluateAll } from '../../src/core/evaluate.js';
import { defaultPolicy, thresholdsFor } from '../../src/core/policy.js';
import { advance, emptyTrackerState } from '../../src/core/tracker.js';
import { formatConnectionStory } from '../../src/output/explain.js';
import { parseSs } from '../../src/sources/linux/parse-ss.js';
import { readFixture } from '../fixture.js';

// explain's text for a server side never accepted (captured: linux-ss-tanoie-accept-queue-kernel6.txt,
// 127.0.0.1:33605 -> 127.0.0.1:38866, ino:0): it waits in the accept queue; it is not "no data
// either way" with "both sides at once spoke last" and keepalive advice.

describe('explain of a connection waiting in its listener’s accept queue', () => {
  it('says it waits to be accepted, with the queue as evidence, and no idle-session advice', () => {
    const T0 = Date.parse('2026-12-02T13:04:30Z');
    const { rows } = parseSs(readFixture('linux-ss-tanoie-accept-queue-kernel6.txt'), { uptimeMs: 864_000_000 });
    const state = advance(emptyTrackerState(), { takenAtMs: T0, rows, completeProtocols: ['tcp', 'tcp6'] }).state;
    const policy = defaultPolicy();
    policy.warning.idleMs = 1000;
    const views = evaluateAll(state, T0, policy).views;
    const view = views.find((v) => v.row.local.port === 33605 && v.row.remote.port === 38866)!;
    const text = formatConnectionStory(view, diagnoseConnection(view, new DiagnosisIndex(views)), thresholdsFor(policy, view.row));
    expect(text).toContain('ESTABLISHED 127.0.0.1:33605 -> 127.0.0.1:38866  (tcp, no owner found)');
    expect(text).toContain('Finding: waiting in the accept queue of 127.0.0.1:33605: the kernel completed the handshake, the application has not accepted it');
    expect(text).toContain('the listener 127.0.0.1:33605 has 2 connections in its accept queue (backlog 8)');
    expect(text).toContain('has not called accept()');
    // The finding, not the state guide after History (ESTABLISHED's generic entry).
    expect(text.slice(0, text.indexOf('History:'))).not.toMatch(/no data either way|spoke last|enable TCP keepalive/);
  });
});
