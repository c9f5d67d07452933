import { describe, expect, it } from 'vitest';
import type { SocketRow } from '../../src/core/connection.js';
import { countLevels, defaultPolicy, evaluateCounts, type CountRule, type Policy } from '../../src/core/policy.js';
import { distinctPerfdataLabels, formatNagios, perfdataLabel } from '../../src/output/nagios.js';

// Issue 16.16: Nagios perfdata carries warn/crit where a count rule defines them. Rows written for
// the test, in the shape every source gives (loopback CLOSE_WAIT sockets of two processes).

const closeWait = (port: number, process: string): { key: string; row: SocketRow } => ({
  key: `tcp 127.0.0.1 ${port} 127.0.0.1 5432`,
  row: {
    protocol: 'tcp',
    local: { address: '127.0.0.1', port },
    remote: { address: '127.0.0.1', port: 5432 },
    state: 'CLOSE_WAIT',
    rawState: 'CLOSE-WAIT',
    pid: process === 'java' ? 812 : 901,
    process,
  },
});
// java holds 3 CLOSE_WAIT, python 2: 5 in all.
const ROWS = [closeWait(40001, 'java'), closeWait(40002, 'java'), closeWait(40003, 'java'), closeWait(40004, 'python'), closeWait(40005, 'python')];
const rule = (extra: Partial<CountRule>): CountRule => ({ name: 'close-wait-leak', states: ['CLOSE_WAIT'], per: 'process', warningAbove: 2, ...extra });
const policyWith = (...counts: CountRule[]): Policy => ({ ...defaultPolicy('ios'), counts });
const perfdata = (out: string) => out.split('\n')[0]!.split(' | ')[1]!.split(' ');

describe('countLevels: the value a count rule compares with its levels', () => {
  it('is the largest group (3 for java), not the total (5): the rule is over its limit exactly when that group is', () => {
    const policy = policyWith(rule({ criticalAbove: 4 }));
    expect(countLevels(policy, ROWS)).toEqual([{ rule: 'close-wait-leak', largest: 3, warningAbove: 2, criticalAbove: 4 }]);
    expect(evaluateCounts(policy, ROWS).map((f) => [f.group, f.severity])).toEqual([['java[812]', 'warning']]);
    // Below the level: the same rule at 3 flags nothing, and the value 3 is not above 3.
    const quiet = policyWith(rule({ warningAbove: 3 }));
    expect(evaluateCounts(quiet, ROWS)).toEqual([]);
    expect(countLevels(quiet, ROWS)[0]).toMatchObject({ largest: 3, warningAbove: 3 });
  });

  it('is 0 for a rule whose states no row is in; no critical level stays undefined', () => {
    expect(countLevels(policyWith(rule({ name: 'syn', states: ['SYN_RECEIVED'] })), ROWS)).toEqual([{ rule: 'syn', largest: 0, warningAbove: 2 }]);
  });
});

describe('Nagios perfdata levels', () => {
  const evaluation = { views: [], countFlags: [] };

  it('each count rule: count_<rule>=largest;warning;critical;0, empty critical where the rule sets none', () => {
    const levels = countLevels(policyWith(rule({ criticalAbove: 4 }), rule({ name: 'per-port', per: 'local-port', warningAbove: 10 })), ROWS);
    const items = perfdata(formatNagios('warning', evaluation, 'ss', [], [], levels));
    expect(items.slice(-2)).toEqual(['count_close-wait-leak=3;2;4;0', 'count_per-port=1;10;;0']);
  });

  it('items no count rule defines a level for keep empty warn/crit; without count rules nothing is added', () => {
    const withRule = perfdata(formatNagios('ok', evaluation, 'ss', [], [], countLevels(policyWith(rule({})), ROWS)));
    const without = perfdata(formatNagios('ok', evaluation, 'ss', []));
    expect(withRule.slice(0, -1)).toEqual(without);
    for (const item of without) expect(item).toMatch(/^[a-z_0-9]+=\d+;;;$/);
  });

  it('a rule name becomes a valid label: quoted when it has a space or quote, = and | never raw', () => {
    expect(perfdataLabel("count_db's leak")).toBe("'count_db''s leak'");
    expect(perfdataLabel('count_a=b|c')).toBe('count_a_b\\x7cc');
    const out = formatNagios('ok', evaluation, 'ss', [], [], [{ rule: 'pg pool', largest: 1, warningAbove: 5 }]);
    expect(out.split('\n')[0]!.endsWith(" 'count_pg pool'=1;5;;0")).toBe(true);
    expect(out.split('|')).toHaveLength(2);
  });

  it('labels stay distinct when sanitising maps two rule names to one (breaker 7)', () => {
    // Written for the test: the two names of the report, one with `=` (shown as `_`), one with `_`.
    const out = formatNagios(
      'ok',
      evaluation,
      'ss',
      [],
      [],
      [
        { rule: "x=1 it's", largest: 1, warningAbove: 5 },
        { rule: "x_1 it's", largest: 2, warningAbove: 6 },
      ],
    );
    const items = out.split('\n')[0]!.split(' | ')[1]!;
    expect(items.endsWith(" 'count_x_1 it''s'=1;5;;0 'count_x_1 it''s_2'=2;6;;0")).toBe(true);
    expect(distinctPerfdataLabels(['count_a|b', 'count_a\\x7cb', 'count_a|b'])).toEqual(['count_a\\x7cb', 'count_a\\x7cb_2', 'count_a\\x7cb_3']);
    // Never one of the fixed labels either.
    expect(distinctPerfdataLabels(['connections'], ['connections'])).toEqual(['connections_2']);
  });
});
