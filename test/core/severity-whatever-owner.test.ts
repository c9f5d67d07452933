import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { defaultPolicy, severityWhateverOwner, type Policy, type SessionRule } from '../../src/core/policy.js';
import { TcpState } from '../../src/core/tcp-state.js';

// What a flag on a connection whose owner could not be read proves (rules are first-match; a rule
// on process names may or may not be the one its hidden owner picks).

const row: SocketRow = { protocol: 'tcp', local: { address: '10.0.0.1', port: 5432 }, remote: { address: '10.0.0.9', port: 40000 }, state: TcpState.CLOSE_WAIT, rawState: 'CLOSE-WAIT' };
const measures = (halfCloseTimerMs: number) => ({ row, dwellMs: halfCloseTimerMs, halfCloseTimerMs });
const rule = (name: string, match: SessionRule['match'], halfCloseMs: number, criticalMs?: number): SessionRule => ({
  name,
  match,
  warning: { halfCloseMs },
  critical: criticalMs === undefined ? {} : { halfCloseMs: criticalMs },
});
const policyWith = (...rules: SessionRule[]): Policy => ({ ...defaultPolicy(), rules }); // defaults: half-close 30 s

describe('severityWhateverOwner', () => {
  it('no rule on process names: what the first matching rule (or the defaults) says', () => {
    expect(severityWhateverOwner(policyWith(), measures(31_000))).toBe('warning');
    expect(severityWhateverOwner(policyWith(), measures(29_000))).toBeUndefined();
    expect(severityWhateverOwner(policyWith(rule('db', { localPorts: [{ from: 5432, to: 5432 }] }, 10_000)), measures(20_000))).toBe('warning');
  });

  it('a rule on process names that would raise the threshold: nothing proven', () => {
    expect(severityWhateverOwner(policyWith(rule('java', { processes: ['java'] }, 3_600_000)), measures(60_000))).toBeUndefined();
  });

  it('a rule on process names whose other fields do not match the connection is not a candidate', () => {
    expect(severityWhateverOwner(policyWith(rule('java', { processes: ['java'], localPorts: [{ from: 80, to: 80 }] }, 3_600_000)), measures(60_000))).toBe('warning');
  });

  it('rules after the first matching rule without process names are never picked', () => {
    const policy = policyWith(rule('db', { localPorts: [{ from: 5432, to: 5432 }] }, 10_000), rule('java', { processes: ['java'] }, 3_600_000));
    expect(severityWhateverOwner(policy, measures(20_000))).toBe('warning');
  });

  it('the lowest severity over the candidates: critical under one, warning under another, proves a warning', () => {
    const policy = policyWith(rule('java', { processes: ['java'] }, 10_000, 15_000), rule('all', {}, 10_000));
    expect(severityWhateverOwner(policy, measures(20_000))).toBe('warning');
    const bothCritical = policyWith(rule('java', { processes: ['java'] }, 10_000, 15_000), rule('all', {}, 10_000, 12_000));
    expect(severityWhateverOwner(bothCritical, measures(20_000))).toBe('critical');
  });
});
