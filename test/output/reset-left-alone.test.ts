import { describe, expect, it } from 'vitest';
import { formatResetText, resetReportToJson } from '../../src/output/reset.js';
import { formatListText } from '../../src/output/list.js';
import { flowRow, viewsAfterAMinute as viewsOf } from '../tracked-rows.js';

// `reset --state LISTEN`: every selected session is refused (never reset), none is absent. The text
// says what the JSON says, and a listener's remote is printed as `list` prints it.

const listener = (port: number) => flowRow(port, 'LISTEN', { local: { address: '0.0.0.0', port }, remote: { address: '0.0.0.0', port: 0 }, rawState: 'LISTEN' });
const listeners = viewsOf([listener(80), listener(443), listener(8080)]);
const untouchable = listeners.map((view) => ({ view, reason: 'a listening socket is never reset' }));

describe('reset of a selection that holds only sessions never reset', () => {
  const yes = { refused: false as const, dryRun: false, candidates: [], untouchable, results: [], needsConfirmation: undefined };
  const dry = { ...yes, dryRun: true };

  it('--yes: the summary says 3 selected and left alone, as JSON does; never "no session matches"', () => {
    expect(resetReportToJson(yes).summary).toEqual({ ended: 0, leftAlone: 3, failed: 0 });
    const text = formatResetText(yes);
    expect(text).not.toContain('no session matches');
    expect(text.trimEnd().split('\n').at(-1)).toBe('reset: 3 sessions selected: 0 ended, 3 left alone, 0 failed');
  });

  it('--yes with one listener: it is counted too', () => {
    const text = formatResetText({ ...yes, untouchable: untouchable.slice(0, 1) });
    expect(text).not.toContain('no session matches');
    expect(text.trimEnd().split('\n').at(-1)).toBe('reset: 1 session selected: 0 ended, 1 left alone, 0 failed');
  });

  it('dry run: nothing would be ended, and why; never "no session matches"', () => {
    const text = formatResetText(dry);
    expect(text).not.toContain('no session matches');
    expect(text.trimEnd().split('\n').at(-1)).toBe('dry run: nothing would be ended: 3 sessions selected, all left alone');
  });

  it('an empty selection still says no session matches', () => {
    expect(formatResetText({ ...yes, untouchable: [] })).toBe('no session matches\n');
    expect(formatResetText({ ...dry, untouchable: [] })).toBe('no session matches\n');
  });

  it("a listener's remote reads 0.0.0.0:* in reset's lines, as in list's table", () => {
    const text = formatResetText(yes);
    expect(text).toContain('skip      LISTEN 0.0.0.0:80 -> 0.0.0.0:*: a listening socket is never reset');
    expect(text).not.toContain('0.0.0.0:0');
    expect(formatListText({ takenAtMs: 0, evaluation: { views: listeners, countFlags: [] }, views: listeners, diagnosis: undefined, ownersHidden: false, places: undefined } as never)).toContain(
      '0.0.0.0:*',
    );
  });
});
