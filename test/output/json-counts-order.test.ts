import { describe, expect, it } from 'vitest';
import { ALL_TCP_STATES, type TcpState } from '../../src/core/tcp-state.js';
import { countsToJson } from '../../src/output/json.js';
import { closeWait, flowRow, viewsAfterAMinute } from '../tracked-rows.js';

// check --json's `counts`: one key per state present (none for a state with no socket), in the
// canonical TcpState order, whatever order the table listed its rows in and whatever was counted
// without a view (leftOut). Was the order of first appearance: two runs over the same sockets
// could give their keys in different orders.
const rows = [flowRow(40_001, 'TIME_WAIT'), flowRow(40_002, 'ESTABLISHED'), closeWait({}), flowRow(40_003, 'LISTEN', { remote: { address: '0.0.0.0', port: 0 } }), flowRow(40_004, 'SYN_SENT')];

describe('JSON counts: the canonical state order', () => {
  it('the same keys and figures, in ALL_TCP_STATES order, for the rows in any order', () => {
    const expected = ['LISTEN', 'SYN_SENT', 'ESTABLISHED', 'CLOSE_WAIT', 'TIME_WAIT'].sort((a, b) => ALL_TCP_STATES.indexOf(a as TcpState) - ALL_TCP_STATES.indexOf(b as TcpState));
    for (const order of [rows, [...rows].reverse(), [rows[2]!, rows[0]!, rows[4]!, rows[1]!, rows[3]!]]) {
      const counts = countsToJson(viewsAfterAMinute(order), new Map());
      expect(Object.keys(counts)).toEqual(expected);
      expect(Object.values(counts)).toEqual([1, 1, 1, 1, 1]);
    }
  });

  it('states counted without a view (leftOut) take their canonical place too, and a state with none has no key', () => {
    const counts = countsToJson(
      viewsAfterAMinute([flowRow(40_001, 'TIME_WAIT'), closeWait({})]),
      new Map<TcpState, number>([
        ['FIN_WAIT_2', 3],
        ['ESTABLISHED', 2],
        ['TIME_WAIT', 4],
      ]),
    );
    expect(Object.entries(counts)).toEqual(
      ALL_TCP_STATES.filter((s) => ['ESTABLISHED', 'FIN_WAIT_2', 'CLOSE_WAIT', 'TIME_WAIT'].includes(s)).map((s) => [
        s,
        { ESTABLISHED: 2, FIN_WAIT_2: 3, CLOSE_WAIT: 1, TIME_WAIT: 5 }[s as 'ESTABLISHED'],
      ]),
    );
    expect(counts).not.toHaveProperty('LISTEN');
  });
});
