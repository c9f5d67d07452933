import { describe, expect, it } from 'vitest';
import { wrapText } from '../../src/dashboard/wrap.js';

// Inputs written for the test, in the shape of explain's story (output/explain formatConnectionStory):
// a title line, then lines indented by two blanks with two blanks between their columns.

describe('wrapText', () => {
  it('keeps an indented line indented, and the indent on the lines it wraps to', () => {
    const story = 'State history:\n  2026-11-30T22:00:00.000Z  ESTABLISHED\n  2026-11-30T22:01:00.000Z  CLOSE_WAIT\n\nExits:\n  close() -> LAST_ACK';
    expect(wrapText(story, 60)).toEqual(['State history:', '  2026-11-30T22:00:00.000Z  ESTABLISHED', '  2026-11-30T22:01:00.000Z  CLOSE_WAIT', '', 'Exits:', '  close() -> LAST_ACK']);
    expect(wrapText('  one two three four', 12)).toEqual(['  one two', '  three four']);
  });

  it('never writes a line wider than asked; a word longer than a line is cut', () => {
    const lines = wrapText('a verylongwordthatdoesnotfit b\n    indented verylongwordthatdoesnotfit', 10);
    expect(lines.every((line) => [...line].length <= 10)).toBe(true);
    expect(lines.join('')).toContain('verylo');
    expect(lines.slice(0, 2)).toEqual(['a', 'verylongwo']);
  });
});
