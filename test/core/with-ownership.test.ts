import { describe, expect, it } from 'vitest';
import { withOwnership } from '../../src/core/evaluate.js';
import { flowRow } from '../tracked-rows.js';

// withOwnership copies a row to add the owner a lookup found (issue 15: made by a constructor, not
// a spread, for memory). The copy must be what the spread gave: the same fields, values and order.

describe('withOwnership', () => {
  it('adds inode and owner to a copy, fields in the row order then pid and process; the row itself is untouched', () => {
    const row = flowRow(40100, 'CLOSE_WAIT', { receiveQueue: 1, sendQueue: 0, inode: 6731 });
    const before = { ...row };
    const owned = withOwnership(row, { inode: 6731, owner: { pid: 4242, process: 'python3' } });
    expect(owned).not.toBe(row);
    expect(row).toStrictEqual(before);
    expect(Object.keys(owned)).toEqual([...Object.keys(row), 'pid', 'process']);
    expect({ ...owned }).toStrictEqual({ ...row, pid: 4242, process: 'python3' });
    // Read as any row: JSON and spreads see the same fields.
    expect(JSON.parse(JSON.stringify(owned))).toEqual(JSON.parse(JSON.stringify({ ...row, pid: 4242, process: 'python3' })));
  });

  it('a row without an inode takes the lookup one, with or without an owner; a row with one and no owner found is returned as it is', () => {
    const bare = flowRow(40100, 'ESTABLISHED');
    expect('inode' in bare).toBe(false);
    expect({ ...withOwnership(bare, { inode: 99 }) }).toStrictEqual({ ...bare, inode: 99 });
    expect({ ...withOwnership(bare, { inode: 99, owner: { pid: 1, process: 'init' } }) }).toStrictEqual({ ...bare, inode: 99, pid: 1, process: 'init' });
    const withInode = flowRow(40100, 'ESTABLISHED', { inode: 7 });
    expect(withOwnership(withInode, { inode: 7 })).toBe(withInode);
    expect(withOwnership(withInode, undefined)).toBe(withInode);
    // The row's own inode wins over the lookup's.
    expect(withOwnership(withInode, { inode: 8, owner: { pid: 1, process: 'init' } }).inode).toBe(7);
  });
});
