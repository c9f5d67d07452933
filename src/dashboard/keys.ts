import { appendAll, maxOf } from '../core/lists.js';
import type { Move } from './model.js';
import { wrapText as wrap } from './wrap.js';

// The dashboard's keys as data: one table per mode, read by the reducer to turn a key into an
// action and by helpLines to write the help, so the help cannot drift from the keys.

/** What a key asks for; the reducer (state.ts) says what each does to the state. */
export type KeyAction =
  | { type: 'move'; move: Move }
  | { type: 'open' }
  | { type: 'clear-filter' }
  | { type: 'open-prompt' }
  | { type: 'cycle-sort' }
  | { type: 'toggle-flagged' }
  | { type: 'cycle-grouping' }
  | { type: 'toggle-pause' }
  | { type: 'slower' }
  | { type: 'faster' }
  | { type: 'open-help' }
  | { type: 'quit' }
  | { type: 'close' }
  | { type: 'scroll'; move: Move }
  | { type: 'prompt-apply' }
  | { type: 'prompt-delete' }
  | { type: 'prompt-erase' };

export interface KeyBinding {
  /** blessed's names for the keys (`key.full`): `up`, `enter`, `C-c`, `?`. */
  keys: readonly string[];
  action: KeyAction;
  /** The help line; consecutive bindings with the same text share one line. */
  help: string;
}

export type KeyMode = 'table' | 'prompt' | 'detail' | 'help';

/** The keys that move, in the table (the selection) and in the overlays (the scroll). */
const MOVE_KEYS: [readonly string[], Move][] = [
  [['up', 'k'], 'up'],
  [['down', 'j'], 'down'],
  [['pageup'], 'page-up'],
  [['pagedown'], 'page-down'],
  [['home'], 'home'],
  [['end'], 'end'],
];

const movesAs = (type: 'move' | 'scroll', help: string): KeyBinding[] => MOVE_KEYS.map(([keys, move]) => ({ keys, action: { type, move }, help }));

const SCROLL = movesAs('scroll', 'scroll');

export const KEY_TABLE: Record<KeyMode, readonly KeyBinding[]> = {
  table: [
    ...movesAs('move', 'move the selection'),
    { keys: ['enter'], action: { type: 'open' }, help: "the connection's details; on a group: exactly the group's connections" },
    {
      keys: ['/'],
      action: { type: 'open-prompt' },
      help: 'filter: states (close-wait, or the start of a name: fin), ports (5432 or :5432), owners as shown (python3[5891]), address or process text; every word must match. On the filter in force, typing replaces it, Backspace edits it',
    },
    { keys: ['escape'], action: { type: 'clear-filter' }, help: 'clear the filter and the group shown' },
    { keys: ['s'], action: { type: 'cycle-sort' }, help: 'sort: flag, dwell, state, local, remote, process' },
    { keys: ['f'], action: { type: 'toggle-flagged' }, help: 'flagged only, on/off' },
    { keys: ['g'], action: { type: 'cycle-grouping' }, help: 'group: none, process, remote host, local port, network namespace (--netns)' },
    { keys: ['p'], action: { type: 'toggle-pause' }, help: 'pause / resume polling' },
    { keys: ['+', '='], action: { type: 'slower' }, help: 'poll less often' },
    { keys: ['-', '_'], action: { type: 'faster' }, help: 'poll more often' },
    { keys: ['?'], action: { type: 'open-help' }, help: 'this help' },
    { keys: ['q', 'C-c'], action: { type: 'quit' }, help: 'quit' },
  ],
  prompt: [
    { keys: ['enter'], action: { type: 'prompt-apply' }, help: 'apply the filter' },
    { keys: ['escape'], action: { type: 'close' }, help: 'cancel' },
    { keys: ['backspace'], action: { type: 'prompt-delete' }, help: 'delete a character' },
    { keys: ['C-u'], action: { type: 'prompt-erase' }, help: 'erase the line' },
    { keys: ['C-c'], action: { type: 'quit' }, help: 'quit' },
  ],
  detail: [...SCROLL, { keys: ['enter', 'escape'], action: { type: 'close' }, help: 'close' }, { keys: ['q', 'C-c'], action: { type: 'quit' }, help: 'quit' }],
  // Any key not listed closes the help (see state.ts).
  help: [...SCROLL, { keys: ['q', 'C-c'], action: { type: 'quit' }, help: 'quit' }],
};

/** The binding for `key` in `mode`, if any. */
export function bindingFor(mode: KeyMode, key: string): KeyBinding | undefined {
  return KEY_TABLE[mode].find((b) => b.keys.includes(key));
}

/** Every key name any mode binds: what the adapter listens for. */
export function allBoundKeys(): string[] {
  return [...new Set(Object.values(KEY_TABLE).flatMap((bindings) => bindings.flatMap((b) => b.keys)))];
}

const KEY_NAMES: Record<string, string> = {
  up: '↑',
  down: '↓',
  pageup: 'PgUp',
  pagedown: 'PgDn',
  home: 'Home',
  end: 'End',
  enter: 'Enter',
  escape: 'Esc',
  backspace: 'Backspace',
  'C-c': 'Ctrl-C',
  'C-u': 'Ctrl-U',
};

/** How the help writes a blessed key name: `pageup` → `PgUp`, `C-c` → `Ctrl-C`; others as they are. */
export const keyName = (key: string) => KEY_NAMES[key] ?? key;

interface HelpEntry {
  keys: string[];
  text: string;
}

function entries(bindings: readonly KeyBinding[]): HelpEntry[] {
  const out: HelpEntry[] = [];
  for (const binding of bindings) {
    const last = out.at(-1);
    const names = binding.keys.map(keyName);
    if (last && last.text === binding.help) appendAll(last.keys, names);
    else out.push({ keys: names, text: binding.help });
  }
  return out;
}

const SECTIONS: [KeyMode, string][] = [
  ['table', 'tcpdwell dashboard keys'],
  ['prompt', 'In the filter prompt'],
  ['detail', 'In the details'],
  ['help', 'In this help (any other key closes it)'],
];

/**
 * The help, generated from KEY_TABLE, in lines of at most `width` characters: a key column as wide
 * as its longest entry (at most a third of the width; longer key lists wrap), then the words.
 */
export function helpLines(width: number): string[] {
  const lines: string[] = [];
  for (const [mode, title] of SECTIONS) {
    if (lines.length) lines.push('');
    appendAll(lines, wrap(title, width));
    const list = entries(KEY_TABLE[mode]);
    const keyWidth = Math.min(
      Math.floor(width / 3),
      maxOf(
        list.map((e) => [...e.keys.join(' ')].length),
        0,
      ),
    );
    const textWidth = Math.max(10, width - keyWidth - 4);
    for (const entry of list) {
      const keys = wrap(entry.keys.join(' '), keyWidth);
      const text = wrap(entry.text, textWidth);
      for (let i = 0; i < Math.max(keys.length, text.length); i++) {
        const k = keys[i] ?? '';
        lines.push(`  ${k}${' '.repeat(keyWidth - [...k].length)}  ${text[i] ?? ''}`.trimEnd());
      }
    }
  }
  return lines;
}
