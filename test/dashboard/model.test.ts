import { describe, expect, it } from 'vitest';
import { sortViews as presentationOrder, type ConnectionView } from '../../src/core/evaluate.js';
import type { SocketRow } from '../../src/core/connection.js';
import { connectionKey } from '../../src/core/connection.js';
import type { TcpState } from '../../src/core/tcp-state.js';
import { clampCursor, compileFilter, filterNeedsOwners, followSelection, groupViews, moveCursor, nextOf, sortViews, visibleWindow, SORT_KEYS } from '../../src/dashboard/model.js';
import { connectionColumns, connectionLine, fit, plainPaint, stateBars, groupHeader, groupLine, colorPaint } from '../../src/dashboard/render.js';
import { withDefaultCommand } from '../../src/cli/parse-command-line.js';

/** The evaluation time of the views below. */
const NOW = 1_800_000_000_000;

function view(
  state: TcpState,
  local: string,
  remote: string,
  over: { dwellMs?: number; flag?: 'warning' | 'critical'; pid?: number; process?: string; source?: 'observed' | 'kernel' | 'lower-bound' } = {},
): ConnectionView {
  const [la, lp] = local.split(/:(?=\d+$)/);
  const [ra, rp] = remote.split(/:(?=\d+$)/);
  const row: SocketRow = { protocol: 'tcp', local: { address: la!, port: Number(lp) }, remote: { address: ra!, port: Number(rp) }, state, rawState: state };
  if (over.pid !== undefined) row.pid = over.pid;
  if (over.process !== undefined) row.process = over.process;
  const key = connectionKey(row);
  const dwellMs = over.dwellMs ?? 1000;
  const v: ConnectionView = {
    // As the tracker's views are: the dwell is the time since the state was entered (tracker timingOf).
    connection: { key, row, firstSeenMs: 0, lastSeenMs: NOW, stateSinceMs: NOW - dwellMs, dwellSource: over.source ?? 'observed', transitions: [] },
    row,
    timing: { dwellMs, halfCloseTimerMs: dwellMs },
  };
  if (over.flag) v.flag = { kind: 'half-close', severity: over.flag, thresholdMs: 30_000, measured: dwellMs, rule: 'default' };
  return v;
}

const VIEWS = [
  view('ESTABLISHED', '10.0.0.1:5432', '10.0.0.9:40100', { dwellMs: 500_000, pid: 812, process: 'postgres' }),
  view('CLOSE_WAIT', '10.0.0.1:8080', '10.0.0.7:51000', { dwellMs: 90_000, flag: 'warning', pid: 77, process: 'java' }),
  view('CLOSE_WAIT', '10.0.0.1:8080', '10.0.0.7:51001', { dwellMs: 700_000, flag: 'critical', pid: 77, process: 'java' }),
  view('SYN_SENT', '10.0.0.1:40000', '10.0.0.8:443', { dwellMs: 40_000, flag: 'warning', pid: 99, process: 'curl' }),
  view('LISTEN', '0.0.0.0:22', '0.0.0.0:0', { dwellMs: 9_000_000 }),
];
const ports = (views: ConnectionView[]) => views.map((v) => v.row.local.port);

describe('sorting', () => {
  it('flag: critical, then warning, then the rest, each by dwell; other keys as named', () => {
    expect(ports(sortViews(VIEWS, 'flag'))).toEqual([8080, 8080, 40000, 22, 5432]);
    expect(sortViews(VIEWS, 'flag')[0]!.flag?.severity).toBe('critical');
    expect(ports(sortViews(VIEWS, 'dwell'))).toEqual([22, 8080, 5432, 8080, 40000]);
    expect(sortViews(VIEWS, 'state').map((v) => v.row.state)).toEqual(['LISTEN', 'SYN_SENT', 'ESTABLISHED', 'CLOSE_WAIT', 'CLOSE_WAIT']);
    expect(sortViews(VIEWS, 'process').map((v) => v.row.process ?? '-')).toEqual(['curl', 'java', 'java', 'postgres', '-']);
    expect(sortViews(VIEWS, 'remote')[0]!.row.remote.address).toBe('0.0.0.0');
    expect(nextOf(SORT_KEYS, 'process')).toBe('flag');
  });

  it('flag is the presentation order of list --numbered and explain N: rows entered in the same second of the clock keep their flow order, whatever their milliseconds', () => {
    // Written for the test: two sessions of one client 300 ms apart, the later one (port 51001) listed first by flow.
    const first = view('CLOSE_WAIT', '10.0.0.1:8080', '10.0.0.7:51002', { dwellMs: 54_900, flag: 'warning' });
    const second = view('CLOSE_WAIT', '10.0.0.1:8080', '10.0.0.7:51001', { dwellMs: 54_600, flag: 'warning' });
    // NOW - 54_900 and NOW - 54_600 fall in the same second of the clock.
    expect(Math.floor(first.connection.stateSinceMs / 1000)).toBe(Math.floor(second.connection.stateSinceMs / 1000));
    expect(sortViews([first, second], 'flag')).toEqual([second, first]);
    expect(sortViews([...VIEWS, first, second], 'flag')).toEqual(presentationOrder([...VIEWS, first, second]));
  });

  it('text sorts: by the text, then the number (port, pid) as a number, then the key; no owner last', () => {
    const rows = [
      view('ESTABLISHED', '10.0.0.2:9000', '10.0.0.9:80', { pid: 1200, process: 'nginx' }),
      view('ESTABLISHED', '10.0.0.1:10000', '10.0.0.10:80'),
      view('ESTABLISHED', '10.0.0.1:9000', '10.0.0.9:443', { pid: 300, process: 'nginx' }),
      view('ESTABLISHED', '10.0.0.1:9000', '10.0.0.9:80', { pid: 77, process: 'java' }),
    ];
    const flows = (views: ConnectionView[]) => views.map((v) => `${v.row.local.address}:${v.row.local.port}>${v.row.remote.address}:${v.row.remote.port}`);
    // By text: 10.0.0.1 before 10.0.0.2, and (remote) 10.0.0.10 before 10.0.0.9; ports as numbers: 9000 before 10000.
    expect(flows(sortViews(rows, 'local'))).toEqual(['10.0.0.1:9000>10.0.0.9:443', '10.0.0.1:9000>10.0.0.9:80', '10.0.0.1:10000>10.0.0.10:80', '10.0.0.2:9000>10.0.0.9:80']);
    expect(flows(sortViews(rows, 'remote'))).toEqual(['10.0.0.1:10000>10.0.0.10:80', '10.0.0.1:9000>10.0.0.9:80', '10.0.0.2:9000>10.0.0.9:80', '10.0.0.1:9000>10.0.0.9:443']);
    expect(sortViews(rows, 'process').map((v) => `${v.row.process ?? '-'}[${v.row.pid ?? ''}]`)).toEqual(['java[77]', 'nginx[300]', 'nginx[1200]', '-[]']);
    // A new array, the input untouched.
    expect(sortViews(rows, 'local')).not.toBe(rows);
    expect(flows(rows)[0]).toBe('10.0.0.2:9000>10.0.0.9:80');
  });

  it('does not touch its input', () => {
    const before = ports(VIEWS);
    sortViews(VIEWS, 'dwell');
    expect(ports(VIEWS)).toEqual(before);
  });
});

describe('filtering', () => {
  const pick = (text: string) => ports(VIEWS.filter(compileFilter(text)));
  it('states in any spelling, ports either side, address and process text; all tokens must match', () => {
    expect(pick('close-wait')).toEqual([8080, 8080]);
    expect(pick('CLOSE_WAIT 51001')).toEqual([8080]);
    expect(pick(':443')).toEqual([40000]);
    expect(pick('syn-sent')).toEqual([40000]);
    expect(pick('estab')).toEqual([5432]);
    expect(pick('10.0.0.7')).toEqual([8080, 8080]);
    expect(pick('JAVA')).toEqual([8080, 8080]);
    expect(pick('812')).toEqual([5432]); // a pid
    expect(pick('')).toEqual(ports(VIEWS));
    expect(pick('nothing-like-this')).toEqual([]);
  });

  it('a bare number is a port or a pid; `:N` is a port only, so what it finds never waits on owners looked up', () => {
    // postgres[812] listens on 5432: no row has port 812.
    expect(pick('812')).toEqual([5432]);
    expect(pick(':812')).toEqual([]);
    expect(filterNeedsOwners('812')).toBe(true);
    expect(filterNeedsOwners(':812')).toBe(false);
  });

  it('knows when owners of every row are needed', () => {
    expect(filterNeedsOwners('close-wait :443')).toBe(false);
    expect(filterNeedsOwners('java')).toBe(true);
    expect(filterNeedsOwners('10.0.0.7')).toBe(true);
    expect(filterNeedsOwners('')).toBe(false);
  });
});

describe('grouping', () => {
  it('per process, remote host and local port, with counts per state; most flagged first', () => {
    expect(groupViews(VIEWS, 'process')).toEqual([
      { key: 'java[77]', scope: { grouping: 'process', pid: 77, process: 'java' }, total: 2, flagged: 2, byState: { CLOSE_WAIT: 2 } },
      { key: 'curl[99]', scope: { grouping: 'process', pid: 99, process: 'curl' }, total: 1, flagged: 1, byState: { SYN_SENT: 1 } },
      { key: '(no owner)', scope: { grouping: 'process', pid: undefined, process: undefined }, total: 1, flagged: 0, byState: { LISTEN: 1 } },
      { key: 'postgres[812]', scope: { grouping: 'process', pid: 812, process: 'postgres' }, total: 1, flagged: 0, byState: { ESTABLISHED: 1 } },
    ]);
    expect(groupViews(VIEWS, 'remote').map((g) => [g.key, g.total])).toEqual([
      ['10.0.0.7', 2],
      ['10.0.0.8', 1],
      ['0.0.0.0', 1],
      ['10.0.0.9', 1],
    ]);
    expect(groupViews(VIEWS, 'local-port')[0]).toEqual({ key: '8080', scope: { grouping: 'local-port', port: 8080 }, total: 2, flagged: 2, byState: { CLOSE_WAIT: 2 } });
  });
});

describe('windowing and the cursor', () => {
  const rows = Array.from({ length: 100_000 }, (_, i) => i);
  it('the window never holds more than the screen, whatever the list', () => {
    expect(visibleWindow(rows, { selected: 50_000, offset: 49_990 }, 30)).toEqual(rows.slice(49_990, 50_020));
  });

  it('moves, pages and jumps, keeping the selection on screen and inside the list', () => {
    let c = { selected: 0, offset: 0 };
    c = moveCursor(c, 'up', 100, 10);
    expect(c).toEqual({ selected: 0, offset: 0 });
    c = moveCursor(c, 'page-down', 100, 10);
    expect(c).toEqual({ selected: 9, offset: 0 });
    c = moveCursor(c, 'down', 100, 10);
    expect(c).toEqual({ selected: 10, offset: 1 });
    c = moveCursor(c, 'end', 100, 10);
    expect(c).toEqual({ selected: 99, offset: 90 });
    c = moveCursor(c, 'page-up', 100, 10);
    expect(c).toEqual({ selected: 90, offset: 90 });
    c = moveCursor(c, 'home', 100, 10);
    expect(c).toEqual({ selected: 0, offset: 0 });
    expect(clampCursor({ selected: 99, offset: 90 }, 5, 10)).toEqual({ selected: 4, offset: 0 });
    expect(clampCursor({ selected: 3, offset: 0 }, 0, 10)).toEqual({ selected: 0, offset: 0 });
  });

  it('follows the selected connection when a poll reorders the list', () => {
    const sorted = sortViews(VIEWS, 'flag');
    const cursor = followSelection(VIEWS[0]!.connection.key, sorted, { selected: 0, offset: 0 }, 3);
    expect(sorted[cursor.selected]).toBe(VIEWS[0]);
    expect(cursor.selected - cursor.offset).toBeLessThan(3);
  });
});

describe('rendering', () => {
  it('columns fill the terminal and no more, at 80 and 120 columns', () => {
    for (const width of [80, 120]) {
      const columns = connectionColumns(width);
      const line = columns.map((c) => fit('x', c.width)).join(' ');
      expect([...line].length).toBeLessThanOrEqual(width - 2);
      expect([...line].length).toBeGreaterThan(width - 10);
    }
    expect(connectionColumns(80).map((c) => c.title)).toEqual(['STATE', 'LOCAL', 'REMOTE', 'PID/PROCESS', 'DWELL', 'FLAG']);
    expect(connectionColumns(120).map((c) => c.title)).toContain('IDLE');
  });

  it('dwell shows ≥ unless observed; flagged rows are coloured by severity, but not under NO_COLOR', () => {
    const lower = connectionLine(view('CLOSE_WAIT', '10.0.0.1:1', '10.0.0.2:2', { dwellMs: 61_000, source: 'kernel', flag: 'critical' }), connectionColumns(120), false, colorPaint);
    expect(lower).toMatch(/^\{red-fg\}CLOSE_WAIT .* ≥1m01s .*half-close!!/);
    const observed = connectionLine(view('CLOSE_WAIT', '10.0.0.1:1', '10.0.0.2:2', { dwellMs: 61_000, flag: 'warning' }), connectionColumns(120), false, plainPaint);
    expect(observed).not.toMatch(/\{[a-z-]+\}/);
    expect(observed).toMatch(/ 1m01s /);
    expect(connectionLine(VIEWS[0]!, connectionColumns(80), true, plainPaint)).toMatch(/^\{inverse\}ESTABLISHED/);
  });

  it('cuts long text with …, escapes blessed tags, text bars', () => {
    expect(fit('2001:db8:1234:5678:9abc:def0:1234:5678', 12)).toBe('2001:db8:12…');
    expect(fit('ab', 4)).toBe('ab  ');
    expect(connectionLine(view('LISTEN', '0.0.0.0:1', '0.0.0.0:0', { process: '{evil}', pid: 1 }), connectionColumns(120), false, plainPaint)).toContain('{open}evil{close}');
    expect(
      stateBars(
        [
          ['ESTB', 10],
          ['CLWT', 5],
        ],
        24,
      ),
    ).toEqual(['ESTB  ██████████ 10', 'CLWT  █████ 5']);
  });

  it('group lines fit at 80 columns by dropping the least telling states', () => {
    const header = groupHeader('process', 80, plainPaint).replace(/\{\/?bold\}/g, '');
    expect([...header].length).toBeLessThanOrEqual(78);
    expect(header).toMatch(/CLOSE_W\s+SYN_S/);
    const line = groupLine(
      { key: 'java[77]', scope: { grouping: 'process', pid: 77, process: 'java' }, total: 300, flagged: 280, byState: { CLOSE_WAIT: 280, ESTABLISHED: 20 } },
      80,
      false,
      plainPaint,
    );
    expect(line).toMatch(/^java\[77\]\s+300\s+280\s+280\s+20/);
  });
});

describe('default command', () => {
  it('plain tcpdwell on a terminal is the dashboard; piped, or with list flags, it is list', () => {
    expect(withDefaultCommand([], true)).toEqual(['dashboard']);
    expect(withDefaultCommand(['--source', 'procfs'], true)).toEqual(['dashboard', '--source', 'procfs']);
    expect(withDefaultCommand([], false)).toEqual([]);
    expect(withDefaultCommand(['--json'], true)).toEqual(['--json']);
    expect(withDefaultCommand(['list'], true)).toEqual(['list']);
    expect(withDefaultCommand(['check'], true)).toEqual(['check']);
  });
});

describe('--netns in the dashboard: g groups by namespace, the filter finds it, a NETNS column', () => {
  const inNs = (v: ConnectionView, netns: SocketRow['netns']): ConnectionView => {
    const row = { ...v.row, netns };
    return { ...v, row, connection: { ...v.connection, row, key: connectionKey(row) } };
  };
  const views = [
    inNs(view('CLOSE_WAIT', '127.0.0.1:8080', '127.0.0.1:40000', { flag: 'warning' }), { inode: 20, names: ['web'] }),
    inNs(view('CLOSE_WAIT', '127.0.0.1:8080', '127.0.0.1:40000'), { inode: 30, container: { runtime: 'docker', id: 'ab'.repeat(32) } }),
    inNs(view('ESTABLISHED', '127.0.0.1:8080', '127.0.0.1:40001'), { inode: 30, container: { runtime: 'docker', id: 'ab'.repeat(32) } }),
  ];

  it('groups by namespace, flagged first', () => {
    expect(groupViews(views, 'netns').map((g) => [g.key, g.total, g.flagged])).toEqual([
      ['web', 1, 1],
      [`docker ${'ab'.repeat(6)}`, 2, 0],
    ]);
  });

  it('the filter text matches the namespace, so Enter on a group narrows to it', () => {
    expect(views.filter(compileFilter(`docker ${'ab'.repeat(6)}`)).length).toBe(2);
    expect(views.filter(compileFilter('web')).length).toBe(1);
  });

  it('NETNS is a column only when asked for', () => {
    expect(connectionColumns(120, true).map((c) => c.title)).toContain('NETNS');
    expect(connectionColumns(120).map((c) => c.title)).not.toContain('NETNS');
    expect(connectionLine(views[0]!, connectionColumns(120, true), false, plainPaint)).toMatch(/127\.0\.0\.1:40000\s+web\s+/);
  });
});
