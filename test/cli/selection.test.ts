import { describe, expect, it } from 'vitest';
import { isEmptySelection, selects, selectsWithoutOwner, type Selection } from '../../src/cli/selection.js';
import { closeWait, flowRow, viewsAfterAMinute } from '../tracked-rows.js';

// `list` with no filter skips the per-row tests (list.ts): that holds only if an empty selection
// selects every row. Rows written for the test (tracked-rows.ts): flagged and not, owned and not.
describe('isEmptySelection', () => {
  const views = viewsAfterAMinute([closeWait({ pid: 7, process: 'app' }), flowRow(40001, 'ESTABLISHED'), flowRow(40002, 'SYN_SENT'), flowRow(40003, 'TIME_WAIT', { pid: 9 })]);

  it('an empty selection selects every row, by the filters without owner and with them', () => {
    const empty: Selection = { flaggedOnly: false };
    expect(isEmptySelection(empty)).toBe(true);
    expect(views.some((v) => v.flag) && views.some((v) => !v.flag)).toBe(true);
    for (const view of views) {
      expect(selectsWithoutOwner(empty, view)).toBe(true);
      expect(selects(empty, view)).toBe(true);
    }
  });

  it('any filter, --flagged alone too, is not empty (and then some row is left out)', () => {
    for (const selection of [{ flaggedOnly: true }, { flaggedOnly: false, states: ['SYN_SENT' as const] }, { flaggedOnly: false, pids: [7] }] satisfies Selection[]) {
      expect(isEmptySelection(selection)).toBe(false);
      expect(views.every((v) => selects(selection, v))).toBe(false);
    }
  });
});
