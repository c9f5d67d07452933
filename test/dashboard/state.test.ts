import { describe, expect, it } from 'vitest';
import type { ConnectionView } from '../../src/core/evaluate.js';
import type { SocketRow } from '../../src/core/connection.js';
import { connectionKey } from '../../src/core/connection.js';
import type { TcpState } from '../../src/core/tcp-state.js';
import { KEY_TABLE, helpLines, keyName } from '../../src/dashboard/keys.js';
import { helpView, promptLine } from '../../src/dashboard/render.js';
import { emptyTableText, initialState, layoutOf, ownersNeeded, reduce, tableLabel, visibleViews, type Action, type DashboardState } from '../../src/dashboard/state.js';

// The dashboard's keys as data in, state out: no screen, no clock. Rows are written for the test
// in the shape the tracker's views have (a SocketRow with its owner where one was looked up).

/** The evaluation time of the views: each dwell is the time since its state was entered, as the tracker's are. */
const NOW = 1_800_000_000_000;

function view(state: TcpState, localPort: number, remotePort: number, over: { pid?: number; process?: string; flagged?: boolean; dwellMs?: number; remote?: string } = {}): ConnectionView {
  const row: SocketRow = { protocol: 'tcp', local: { address: '127.0.0.1', port: localPort }, remote: { address: over.remote ?? '127.0.0.1', port: remotePort }, state, rawState: state };
  if (over.pid !== undefined) row.pid = over.pid;
  if (over.process !== undefined) row.process = over.process;
  const key = connectionKey(row);
  const dwellMs = over.dwellMs ?? 1000;
  const v: ConnectionView = {
    connection: { key, row, firstSeenMs: 0, lastSeenMs: NOW, stateSinceMs: NOW - dwellMs, dwellSource: 'observed', transitions: [] },
    row,
    timing: { dwellMs, halfCloseTimerMs: dwellMs },
  };
  if (over.flagged) v.flag = { kind: 'half-close', severity: 'warning', thresholdMs: 2000, measured: dwellMs, rule: 'default' };
  return v;
}

/** The case: one process holding 22 sockets, 6 of them flagged, and its pid also a port number on other rows. */
const PY = { pid: 22977, process: 'python3' };
const VIEWS: ConnectionView[] = [
  ...Array.from({ length: 3 }, (_, i) => view('CLOSE_WAIT', 40000 + i, 41000 + i, { ...PY, flagged: true, dwellMs: 9000 })),
  ...Array.from({ length: 3 }, (_, i) => view('FIN_WAIT_2', 41000 + i, 40000 + i, { ...PY, flagged: true, dwellMs: 9000 })),
  ...Array.from({ length: 10 }, (_, i) => view('ESTABLISHED', 42000 + i, 43000 + i, PY)),
  ...Array.from({ length: 6 }, (_, i) => view('LISTEN', 44000 + i, 0, PY)),
  // Another process, and rows whose port is the python3 pid: neither belongs to the group.
  view('ESTABLISHED', 22977, 50000, { pid: 4242, process: 'nginx' }),
  view('ESTABLISHED', 50001, 22977, { pid: 4242, process: 'nginx' }),
  view('TIME_WAIT', 50002, 443, { remote: '10.0.0.9' }),
];

function press(state: DashboardState, ...keys: string[]): DashboardState {
  // A printable key arrives with its character, as blessed gives it; named keys without one.
  return keys.reduce((s, key) => reduce(s, { type: 'key', key, ch: [...key].length === 1 ? key : undefined }), state);
}

function type(state: DashboardState, text: string): DashboardState {
  return [...text].reduce((s, ch) => reduce(s, { type: 'key', key: ch === ' ' ? 'space' : ch, ch }), state);
}

const polled = (width = 120, height = 40, views = VIEWS) => reduce(initialState(2000, width, height), { type: 'evaluated', views });

describe('group Enter shows exactly the group', () => {
  it('a process group opens as exactly its 22 rows, every state, however many are flagged; no row that merely has its pid as a port', () => {
    let s = press(polled(), 'g');
    expect(s.grouping).toBe('process');
    const group = s.groups[s.cursor.selected]!;
    expect(group.key).toBe('python3[22977]');
    expect(group.total).toBe(22);
    s = press(s, 'enter');
    expect(s.grouping).toBe('none');
    expect(s.shown).toHaveLength(22);
    expect(s.shown.every((v) => v.row.pid === 22977)).toBe(true);
    expect(new Set(s.shown.map((v) => v.row.state))).toEqual(new Set(['CLOSE_WAIT', 'FIN_WAIT_2', 'ESTABLISHED', 'LISTEN']));
    expect(s.filter).toBe(''); // the group is a structured scope, not text typed into the filter
    expect(tableLabel(s)).toContain('process python3[22977]');
  });

  it('within a filter, a group shows the rows it counted; remote and port groups match the same way', () => {
    let s = press(polled(), '/');
    s = press(type(s, 'close-wait'), 'enter', 'g');
    expect(s.groups.map((g) => [g.key, g.total])).toEqual([['python3[22977]', 3]]);
    s = press(s, 'enter');
    expect(s.shown.map((v) => v.row.state)).toEqual(['CLOSE_WAIT', 'CLOSE_WAIT', 'CLOSE_WAIT']);

    s = press(polled(), 'g', 'g'); // by remote
    expect(s.grouping).toBe('remote');
    const remote = s.groups.findIndex((g) => g.key === '10.0.0.9');
    s = press({ ...s, cursor: { selected: remote, offset: 0 } }, 'enter');
    expect(s.shown.map((v) => v.row.remote.address)).toEqual(['10.0.0.9']);

    s = press(polled(), 'g', 'g', 'g'); // by local port
    const port = s.groups.findIndex((g) => g.key === '22977');
    s = press({ ...s, cursor: { selected: port, offset: 0 } }, 'enter');
    expect(s.shown.map((v) => v.row.local.port)).toEqual([22977]);
  });

  it('--netns: a namespace group opens as exactly its rows, even where another namespace has the same 4-tuple', () => {
    // Written for the test: the same loopback 4-tuple in two namespaces (every pod has its own 127.0.0.1).
    const inNs = (v: ConnectionView, netns: SocketRow['netns']): ConnectionView => {
      const row = { ...v.row, netns };
      return { ...v, row, connection: { ...v.connection, row, key: connectionKey(row) } };
    };
    const views = [
      inNs(view('CLOSE_WAIT', 8080, 40000, { flagged: true }), { inode: 20, names: ['web'] }),
      inNs(view('CLOSE_WAIT', 8080, 40000), { inode: 30 }),
      inNs(view('ESTABLISHED', 8080, 40001), { inode: 30 }),
    ];
    let s = press(polled(120, 40, views), 'g', 'g', 'g', 'g');
    expect(s.grouping).toBe('netns');
    expect(s.groups.map((g) => [g.key, g.total])).toEqual([
      ['web', 1],
      ['net:[30]', 2],
    ]);
    s = press({ ...s, cursor: { selected: 1, offset: 0 } }, 'enter');
    expect(s.grouping).toBe('none');
    expect(s.shown.map((v) => [v.row.netns?.inode, v.row.state])).toEqual(
      expect.arrayContaining([
        [30, 'CLOSE_WAIT'],
        [30, 'ESTABLISHED'],
      ]),
    );
    expect(s.shown).toHaveLength(2);
    expect(tableLabel(s)).toContain('netns net:[30]');
  });

  it('the rows without an owner form one group, and open as exactly those', () => {
    let s = press(polled(), 'g');
    const none = s.groups.findIndex((g) => g.key === '(no owner)');
    s = press({ ...s, cursor: { selected: none, offset: 0 } }, 'enter');
    expect(s.shown.map((v) => v.row.state)).toEqual(['TIME_WAIT']);
  });

  it('Esc on the table clears the filter and the group; the selection goes back to the top', () => {
    let s = press(polled(), 'g', 'enter', '/');
    s = press(type(s, 'estab'), 'enter');
    expect(s.shown).toHaveLength(10);
    s = press(s, 'escape');
    expect([s.filter, s.scope, s.shown.length]).toEqual(['', undefined, VIEWS.length]);
    expect(s.cursor).toEqual({ selected: 0, offset: 0 });
  });
});

describe('the filter prompt', () => {
  it('each key types once, on the first use and every later one; Backspace removes one character', () => {
    let s = press(polled(), '/');
    expect(s.overlay).toEqual({ kind: 'prompt', text: '' });
    s = press(type(s, 'fin'), 'enter');
    expect(s.filter).toBe('fin');
    s = press(s, '/');
    expect(s.overlay).toEqual({ kind: 'prompt', text: 'fin' }); // opens on the filter in force
    s = press(s, 'backspace');
    expect(s.overlay).toEqual({ kind: 'prompt', text: 'fi' });
    s = press(s, 'backspace', 'backspace');
    s = press(type(s, 'close wait'), 'enter');
    expect(s.filter).toBe('close wait');
  });

  it('keys that act on the table are text in the prompt; Esc cancels, Ctrl-U erases, Ctrl-C still quits', () => {
    let s = press(polled(), '/');
    s = type(s, 'gqsf?');
    expect(s.overlay).toEqual({ kind: 'prompt', text: 'gqsf?' });
    expect([s.grouping, s.quit, s.sort, s.flaggedOnly]).toEqual(['none', false, 'flag', false]);
    s = press(s, 'C-u');
    expect(s.overlay).toEqual({ kind: 'prompt', text: '' });
    s = press(type(s, 'listen'), 'escape');
    expect([s.overlay.kind, s.filter]).toEqual(['none', '']);
    // Control characters blessed passes along as `ch` are not typed.
    s = reduce(press(s, '/'), { type: 'key', key: 'C-a', ch: '\x01' });
    expect(s.overlay).toEqual({ kind: 'prompt', text: '' });
    expect(press(s, 'C-c').quit).toBe(true);
  });
});

describe('keys on the table', () => {
  it('s, f, g, p, + and - change what they say; q quits', () => {
    const s = polled();
    expect(press(s, 's').sort).toBe('dwell');
    expect(press(s, 'f').shown).toHaveLength(6);
    expect(press(s, 'f', 'f').shown).toHaveLength(VIEWS.length);
    expect(press(s, 'p').paused).toBe(true);
    expect(press(s, 'p', 'p').paused).toBe(false);
    expect(press(s, '+').intervalMs).toBe(5000);
    expect(press(s, '-', '_').intervalMs).toBe(500);
    expect(press(s, '-', '-', '-').intervalMs).toBe(500); // the shortest step stays
    expect(press(s, 'q').quit).toBe(true);
  });

  it('Enter on a row opens its details; there the arrows scroll and Enter or Esc closes', () => {
    let s = press(polled(), 'down', 'enter');
    expect(s.overlay).toEqual({ kind: 'detail', key: s.shown[1]!.connection.key, scroll: 0 });
    s = press(s, 'down', 'down');
    expect(s.overlay).toMatchObject({ kind: 'detail', scroll: 2 });
    expect(s.cursor.selected).toBe(1); // the table's selection did not move
    expect(press(s, 'escape').overlay.kind).toBe('none');
    expect(press(s, 'enter').overlay.kind).toBe('none');
    expect(reduce(press(s, 'end'), { type: 'clamp-scroll', max: 7 }).overlay).toMatchObject({ scroll: 7 });
  });

  it('? opens the help; arrows scroll it, any other key closes it', () => {
    let s = press(polled(), '?');
    expect(s.overlay).toEqual({ kind: 'help', scroll: 0 });
    s = press(s, 'down');
    expect(s.overlay).toEqual({ kind: 'help', scroll: 1 });
    expect(press(s, 'x').overlay.kind).toBe('none');
    expect(press(s, 'x').grouping).toBe('none'); // the key only closed the help
    expect(press(s, 'q').quit).toBe(true);
  });

  it('the selection follows its connection across a poll that reorders the list', () => {
    let s = press(polled(), 'down', 'down', 'down');
    const selected = s.shown[s.cursor.selected]!.connection.key;
    s = reduce(s, { type: 'evaluated', views: [...VIEWS].reverse() });
    expect(s.shown[s.cursor.selected]!.connection.key).toBe(selected);
  });

  it('a selection never moved stays on the top row under churn; a chosen one stays on its connection, in the table and among groups (breaker 12)', () => {
    // Churn: each poll, new flagged rows sort in above the rows seen before.
    const churn = (n: number) => Array.from({ length: n }, (_, i) => view('CLOSE_WAIT', 30000 + i, 31000 + i, { flagged: true, dwellMs: 20_000 + i }));
    let s = polled();
    const top = s.shown[0]!.connection.key;
    s = reduce(s, { type: 'evaluated', views: [...churn(40), ...VIEWS] });
    expect(s.cursor).toEqual({ selected: 0, offset: 0 });
    expect(s.shown[0]!.connection.key).not.toBe(top); // the top row changed, the cursor stayed at the top
    s = reduce(s, { type: 'evaluated', views: [...churn(80), ...VIEWS] });
    expect(s.cursor).toEqual({ selected: 0, offset: 0 });
    expect(tableLabel(s)).toContain(` connections 1/${80 + VIEWS.length} `);

    s = press(s, 'down', 'down');
    const chosen = s.shown[s.cursor.selected]!.connection.key;
    const onScreen = s.cursor.selected - s.cursor.offset;
    s = reduce(s, { type: 'evaluated', views: [...churn(120), ...VIEWS] });
    expect(s.shown[s.cursor.selected]!.connection.key).toBe(chosen);
    expect(s.cursor.selected - s.cursor.offset).toBe(onScreen); // at the same place on the screen

    let g = press(polled(), 'g', 'down');
    const group = g.groups[g.cursor.selected]!.key;
    g = reduce(g, { type: 'evaluated', views: [...Array.from({ length: 30 }, (_, i) => view('CLOSE_WAIT', 30000 + i, 31000 + i, { pid: 7, process: 'newcomer', flagged: true })), ...VIEWS] });
    expect(g.groups[g.cursor.selected]!.key).toBe(group);
  });

  it('every binding in the key table changes the state in some mode it is bound in (none is dead)', () => {
    const states: Record<string, DashboardState> = {
      table: press(type(press(polled(), '/'), 'estab'), 'enter', 'down'),
      prompt: type(press(polled(), '/'), 'ab'),
      detail: press(polled(), 'enter', 'down'),
      help: press(polled(), '?', 'down'),
    };
    for (const [mode, bindings] of Object.entries(KEY_TABLE)) {
      for (const binding of bindings) {
        for (const key of binding.keys) {
          const before = states[mode]!;
          const after = press(before, key);
          expect(after, `${mode}: ${key}`).not.toEqual(before);
        }
      }
    }
  });
});

describe('help from the key table', () => {
  it('names every key of every mode, and fits 76 columns (an 80-column box) in 22 lines or fewer', () => {
    const lines = helpLines(76);
    expect(lines.every((line) => [...line].length <= 76)).toBe(true);
    expect(lines.length).toBeLessThanOrEqual(40);
    const text = lines.join('\n');
    expect(['up', 'pageup', 'escape', 'C-c', 'q'].map(keyName)).toEqual(['↑', 'PgUp', 'Esc', 'Ctrl-C', 'q']);
    for (const bindings of Object.values(KEY_TABLE)) for (const binding of bindings) for (const key of binding.keys) expect(text).toContain(keyName(key));
    expect(text).toMatch(/^ {2}q Ctrl-C +quit$/m);
  });

  it('the help box fits 80×24 (scrolling to its last line) and 120×40 (whole)', () => {
    const small = helpView(80, 24, 0);
    expect(small.width).toBeLessThanOrEqual(80);
    expect(small.height).toBeLessThanOrEqual(24);
    const end = helpView(80, 24, small.maxScroll);
    expect(end.lines.at(-1)).toBe(helpLines(76).at(-1));
    expect(end.label).toMatch(/↑↓ scroll/);
    const wide = helpView(120, 40, 0);
    expect([wide.maxScroll, wide.lines]).toEqual([0, helpLines(96)]);
    expect(helpView(80, 24, 999).lines).toEqual(end.lines); // a scroll past the end shows the end
  });

  it('the prompt is labelled, shows a cursor, and keeps the end of a long filter in view', () => {
    expect(promptLine('fin', 80)).toBe('filter: fin_  (Enter applies, Esc cancels)');
    const long = promptLine('x'.repeat(100) + 'END', 80);
    expect([...long]).toHaveLength(80);
    expect(long.endsWith('END_')).toBe(true);
    expect(promptLine('a\x1b[31mb', 80)).not.toContain('\x1b');
  });

  it('at 40 columns the words wrap instead of being cut', () => {
    const lines = helpLines(40);
    expect(lines.every((line) => [...line].length <= 40)).toBe(true);
    expect(lines.join(' ').replace(/\s+/g, ' ')).toContain('every word must match');
  });
});

describe('owners and the layout', () => {
  it('owners are asked for the window of the new poll’s views (not the last poll’s objects), or every row when the view needs them', () => {
    const s = polled(120, 40);
    const fresh = VIEWS.map((v) => ({ ...v }));
    // As the dashboard derives the window of a new poll's views before their owners are looked up.
    const window = visibleViews(reduce(s, { type: 'evaluated', views: fresh }));
    expect(window.length).toBe(layoutOf(120, 40).tableRows);
    expect(window.every((v) => fresh.includes(v))).toBe(true);
    expect(ownersNeeded(s)).toBe('visible');
    expect(ownersNeeded(press(s, 'g'))).toBe('all');
    expect(ownersNeeded(press(s, 'enter'))).toBe('all'); // the details count a process's sockets
    expect(ownersNeeded(press(s, 's', 's', 's', 's', 's'))).toBe('all'); // sorted by process
    expect(ownersNeeded(press(type(press(s, '/'), 'python'), 'enter'))).toBe('all');
    expect(ownersNeeded(press(type(press(s, '/'), 'close-wait :443'), 'enter'))).toBe('visible');
    expect(ownersNeeded(press(type(press(s, '/'), '22977'), 'enter'))).toBe('all'); // a port, or the pid of 22 rows
  });

  it('owners added after the derive: the rows that gained one swapped in place, the table neither filtered nor sorted again', () => {
    // As Monitor.evaluate hands them back: the same views, index for index, the owner-completed ones replaced.
    const bare = VIEWS.map((v) => ({ ...v, row: { ...v.row, pid: undefined, process: undefined } as SocketRow }));
    const withOwner = (views: ConnectionView[], which: (v: ConnectionView, i: number) => boolean) => views.map((v, i) => (which(v, i) ? { ...v, row: { ...v.row, pid: 7, process: 'owner' } } : v));
    for (const keys of [[], ['f'], ['s'], ['s', 's', 's'], ['g', 'g'], ['end', 'up']]) {
      const start = press(polled(120, 40), ...keys);
      const derived = reduce(start, { type: 'evaluated', views: bare });
      const completed = withOwner(bare, (_, i) => i % 3 === 0);
      const added = reduce(derived, { type: 'owners-added', before: bare, views: completed });
      const full = reduce(start, { type: 'evaluated', views: completed });
      // What a derive from the completed views gives, ...
      expect(added).toEqual(full);
      expect(added.shown.every((v) => completed.includes(v))).toBe(true);
      // ... without a second derive: the groups are the first derive's objects.
      expect(added.groups).toBe(derived.groups);
      // No owner gained: the table is the first derive's own array.
      expect(reduce(derived, { type: 'owners-added', before: bare, views: [...bare] }).shown).toBe(derived.shown);
    }
    // The state was derived from other views, or these are not the same connections: derived again.
    const derived = reduce(polled(120, 40), { type: 'evaluated', views: bare });
    const other = bare.slice(1);
    expect(reduce(derived, { type: 'owners-added', before: VIEWS, views: withOwner(bare, () => true) }).shown).not.toBe(derived.shown);
    expect(reduce(derived, { type: 'owners-added', before: bare, views: other })).toEqual(reduce(derived, { type: 'evaluated', views: other }));
    // A view that depends on owners (grouped by process) is derived again from the completed views.
    const grouped = reduce(press(polled(120, 40), 'g'), { type: 'evaluated', views: bare });
    const completed = withOwner(bare, () => true);
    expect(reduce(grouped, { type: 'owners-added', before: bare, views: completed }).groups[0]!.key).toBe('owner[7]');
  });

  it('below 80×24 nothing but the notice; the charts only from 28 rows; a resize keeps the selection on screen', () => {
    expect(layoutOf(79, 40).tooSmall).toBe(true);
    expect(layoutOf(120, 23).tooSmall).toBe(true);
    expect(layoutOf(80, 24)).toMatchObject({ tooSmall: false, chartsHeight: 0, tableRows: 17 });
    expect(layoutOf(120, 40)).toMatchObject({ chartsHeight: 10, tableTop: 14, tableRows: 23 });
    const tiny = polled(70, 20);
    expect(press(tiny, 'g', '/', 'f')).toEqual(tiny); // nothing changes unseen
    expect(press(tiny, 'q').quit).toBe(true);
    let s = press(polled(120, 40), 'end');
    s = reduce(s, { type: 'resize', width: 80, height: 24 } satisfies Action);
    const window = visibleViews(s);
    expect(window).toHaveLength(17);
    expect(window).toContain(s.shown[s.cursor.selected]);
  });
});

describe('the filter reads what the dashboard shows (breaker 16, N10)', () => {
  it('an owner as the group view shows it, python3[22977], is exactly that process', () => {
    const s = press(type(press(polled(), '/'), 'python3[22977]'), 'enter');
    expect(s.shown).toHaveLength(22);
    expect(s.shown.every((v) => v.row.pid === 22977 && v.row.process === 'python3')).toBe(true);
    expect(ownersNeeded(s)).toBe('all');
    // The same pid under another name is not that owner.
    expect(press(type(press(polled(), '/'), 'nginx[22977]'), 'enter').shown).toHaveLength(0);
  });

  it('the start of a state name matches the states it starts: fin is FIN_WAIT_1/2, time is TIME_WAIT', () => {
    const s = press(type(press(polled(), '/'), 'fin'), 'enter');
    expect(s.shown).toHaveLength(3);
    expect(s.shown.every((v) => v.row.state === 'FIN_WAIT_2')).toBe(true);
    expect(press(type(press(polled(), '/'), 'time'), 'enter').shown.map((v) => v.row.state)).toEqual(['TIME_WAIT']);
  });

  it('a port-shaped word outside 0–65535, or a range high-low, stays in the prompt with the reason', () => {
    for (const [word, reason] of [
      ['5-3', /"5-3" is not a port range/],
      [':70000', /":70000" is not a port/],
      ['1-70000', /not a port range/],
    ] as const) {
      const s = press(type(press(polled(), '/'), `close ${word}`), 'enter');
      expect(s.overlay.kind).toBe('prompt');
      expect(s.overlay.kind === 'prompt' && s.overlay.error).toMatch(reason);
      expect(s.filter).toBe(''); // nothing applied
      expect(promptLine(`close ${word}`, 120, { error: (s.overlay as { error: string }).error })).toMatch(new RegExp(`^filter: close ${word}_ {2}✗ `));
      // Editing clears the error; the text fixed then applies.
      const edited = press(s, ...Array.from(word, () => 'backspace'));
      expect(edited.overlay).toEqual({ kind: 'prompt', text: 'close ' });
      expect(press(edited, 'enter').filter).toBe('close');
    }
    // A number past the port range is a pid, as documented; when it matches nothing the table says how it was read.
    const s = press(type(press(polled(), '/'), '70000'), 'enter');
    expect([s.overlay.kind, s.filter, s.shown.length]).toEqual(['none', '70000', 0]);
    expect(emptyTableText(s.filter)).toBe('(no connection matches: "70000" is read as a pid (ports go up to 65535))');
    expect(emptyTableText('close')).toBe('(no connection matches)');
  });

  it('the prompt reopened on the filter in force says so; the first character typed replaces it, Backspace edits it', () => {
    let s = press(type(press(polled(), '/'), 'fin'), 'enter', '/');
    expect(s.promptPrefilled).toBe(true);
    expect(promptLine('fin', 120, { prefilled: s.promptPrefilled })).toContain('typing replaces it');
    s = press(type(s, 'close'), 'enter');
    expect(s.filter).toBe('close'); // not "finclose"
    s = press(press(s, '/'), 'backspace');
    expect(s.overlay).toEqual({ kind: 'prompt', text: 'clos' });
    s = type(s, 'e');
    expect(s.overlay).toEqual({ kind: 'prompt', text: 'close' }); // editing, not replacing, once a key edited it
    expect(press(press(polled(), '/'), 'x').promptPrefilled).toBe(false); // an empty prompt has nothing to replace
  });
});
