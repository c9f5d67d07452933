import iconv from 'iconv-lite';
import { beforeEach, describe, expect, it } from 'vitest';
import { FakePlatform, runOn } from '../fake-platform.js';
import { countBy, readFixture, readFixtureBytes } from '../fixture.js';
import { FIXTURE_STATE_COUNTS } from '../fixture-counts.js';

let platform: FakePlatform;

beforeEach(() => {
  platform = new FakePlatform();
});

const run = (argv: string[]) => runOn(platform, argv);

type JsonRow = {
  state: string;
  rawState: string;
  local: { address: string; port: number };
  pid: number | null;
  process: string | null;
  dwellSeconds: number;
  dwellSource: string;
  flag: { kind: string } | null;
};

describe('list --input on every captured table', () => {
  for (const [name, counts] of Object.entries(FIXTURE_STATE_COUNTS)) {
    it(`${name}: format detected, every row listed, nothing UNKNOWN`, async () => {
      platform.files.set(`/captures/${name}`, readFixtureBytes(name));
      const { code, out } = await run(['list', '--input', `/captures/${name}`, '--json']);
      expect(code).toBe(0);
      const rows = JSON.parse(out) as JsonRow[];
      expect(countBy(rows, (r) => r.state)).toEqual(counts);
    });
  }
});

describe('--input replays captures in time order', () => {
  const german = readFixtureBytes('win-netstat-ano-de-DE-CRWinNetDiag-output.txt');

  it('two captures 90 s apart (--at): CLOSE_WAIT seen in both has dwelt ≥ 90 s and is flagged; the file order does not matter', async () => {
    platform.files.set('/c/later.txt', german);
    platform.files.set('/c/earlier.txt', german);
    const { code, out } = await run(['check', '--json', '--input', '/c/later.txt', '/c/earlier.txt', '--at', '2026-11-20T10:01:30Z,2026-11-20T10:00:00Z']);
    expect(code).toBe(1);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ status: 'warning', source: 'input', checkedAt: '2026-11-20T10:01:30.000Z' });
    expect(report.flagged.map((f: JsonRow) => [f.state, f.rawState, f.dwellSeconds, f.dwellSource, f.flag!.kind])).toEqual([
      ['CLOSE_WAIT', 'SCHLIESSEN_WARTEN', 90, 'lower-bound', 'half-close'],
      ['CLOSE_WAIT', 'SCHLIESSEN_WARTEN', 90, 'lower-bound', 'half-close'],
      ['CLOSE_WAIT', 'SCHLIESSEN_WARTEN', 90, 'lower-bound', 'half-close'],
    ]);
    // The owner comes from the capture (netstat -o), not from this machine's /proc.
    expect(report.flagged[0].pid).toBeTypeOf('number');
    expect(platform.listed).toEqual([]);
  });

  it('a "# captured at" first line times each file; a connection that left is closed', async () => {
    const text = readFixture('win-netstat-an-es-MX-miguehm-redes.txt');
    const withoutCloseWait = text
      .split('\n')
      .filter((l) => !l.includes('CLOSE_WAIT'))
      .join('\n');
    platform.files.set('/c/1.txt', `# captured at 2026-11-20T10:00:00Z\n${text}`);
    platform.files.set('/c/2.txt', `# captured at 2026-11-20T10:00:40Z\n${withoutCloseWait}`);
    const { out } = await run(['list', '--json', '--input', '/c/1.txt', '/c/2.txt']);
    const rows = JSON.parse(out) as JsonRow[];
    expect(rows.filter((r) => r.state === 'CLOSE_WAIT')).toEqual([]);
    expect(rows.find((r) => r.state === 'LISTEN')).toMatchObject({ dwellSeconds: 40, dwellSource: 'lower-bound' });
  });

  it('without --at or a captured-at line, the file time orders the captures', async () => {
    platform.files.set('/c/a.txt', german);
    platform.modified.set('/c/a.txt', Date.parse('2026-11-20T10:00:00Z'));
    const { out } = await run(['list', '--json', '--input', '/c/a.txt']);
    expect(JSON.parse(out)).toHaveLength(223);
  });

  it('Get-NetTCPConnection JSON: CreationTime proves the SYN_SENT age at first sight, one capture suffices', async () => {
    platform.files.set('/c/ps.json', readFixtureBytes('powershell51-get-nettcpconnection-constructed.json'));
    const { code, out } = await run(['check', '--json', '--input', '/c/ps.json', '--at', '2026-11-20T10:00:00Z']);
    expect(code).toBe(1);
    const report = JSON.parse(out);
    expect(report.flagged.map((f: JsonRow) => [f.state, f.local.port, f.dwellSeconds, f.dwellSource, f.flag!.kind])).toEqual([['SYN_SENT', 51234, 95, 'kernel', 'half-open']]);
  });
});

describe('malformed and mixed input: a clear message, every good row kept', () => {
  it('a truncated line, a header in another language, CRLF: the good rows stay and the problem is named', async () => {
    const text = [
      '',
      'Активные подключения',
      '  Имя    Локальный адрес        Внешний адрес          Состояние       PID',
      '  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1044',
      '  TCP    10.0.0.5:50100         10.0.0.9:443           ESTAB',
      '  TCP    10.0.0.5:50101',
      '  TCP    10.0.0.5:50102         10.0.0.9:443           CLOSE_WAIT      7744',
    ].join('\r\n');
    platform.files.set('/c/mixed.txt', text);
    const { code, out, err } = await run(['list', '--json', '--input', '/c/mixed.txt']);
    expect(code).toBe(0);
    expect((JSON.parse(out) as JsonRow[]).map((r) => [r.state, r.rawState, r.local.port])).toEqual([
      ['LISTEN', 'LISTENING', 135],
      ['UNKNOWN', 'ESTAB', 50100],
      ['CLOSE_WAIT', 'CLOSE_WAIT', 50102],
    ]);
    expect(err).toContain('/c/mixed.txt: skipped 1 malformed line (first: line 6: truncated row: 2 fields, at least 4 expected)');
    expect(err).toContain('1 row has a state word tcpdwell does not know (ESTAB), shown as UNKNOWN; `--source powershell`');
    expect(err.split('\n').every((l) => l === '' || l.startsWith('tcpdwell: '))).toBe(true);
  });

  it('a UTF-16 file from PowerShell 5.1 `>` redirection of netstat output', async () => {
    const text = readFixture('win-netstat-aon-en-US-jc-windows10.txt');
    platform.files.set('/c/utf16.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    const { out } = await run(['list', '--json', '--input', '/c/utf16.txt']);
    expect(countBy(JSON.parse(out) as JsonRow[], (r) => r.state)).toEqual(FIXTURE_STATE_COUNTS['win-netstat-aon-en-US-jc-windows10.txt']);
  });

  it('an empty file beside a good one: a notice, the good one is analysed, and the exit says not all was read (65)', async () => {
    platform.files.set('/c/empty.txt', '');
    platform.files.set('/c/good.txt', readFixtureBytes('linux-netstat-nat-de-DE-pr-dasource-partyman-32.txt'));
    const { code, out, err } = await run(['list', '--json', '--input', '/c/empty.txt', '/c/good.txt']);
    expect(code).toBe(65);
    expect(JSON.parse(out)).toHaveLength(4);
    expect(err).toBe('tcpdwell: /c/empty.txt is empty; skipped\n');
  });

  it('nothing usable: exit 65 with each reason; nothing readable: exit 66', async () => {
    platform.files.set('/c/empty.txt', '');
    platform.files.set('/c/prose.txt', 'Dear support, our server is slow.\n');
    const unusable = await run(['list', '--input', '/c/empty.txt', '/c/prose.txt']);
    expect(unusable.code).toBe(65);
    expect(unusable.err).toBe(
      'tcpdwell: no socket table in /c/empty.txt, /c/prose.txt: /c/empty.txt is empty; skipped; /c/prose.txt: cannot tell which tool wrote it (give --input-format: procfs, ss, linux-netstat, windows-netstat, powershell, macos-netstat, conntrack); skipped\n',
    );
    const missing = await run(['list', '--input', '/c/nope.txt']);
    expect(missing).toMatchObject({ code: 66, err: 'tcpdwell: cannot read /c/nope.txt: no such file\n' });
  });

  it('cut-off JSON names the file and the reason; --input-format forces a parser', async () => {
    platform.files.set('/c/cut.json', '[{"LocalAddress":"10.0.0.1","LocalPo');
    const cut = await run(['list', '--input', '/c/cut.json']);
    expect(cut.code).toBe(65);
    expect(cut.err).toMatch(/^tcpdwell: no socket table in \/c\/cut\.json: \/c\/cut\.json: cannot be read as powershell output \(Get-NetTCPConnection JSON is not valid JSON/);
    platform.files.set('/c/ss.txt', readFixtureBytes('linux-ss-tanoi-stuck-states-kernel6.txt'));
    const forced = await run(['list', '--input', '/c/ss.txt', '--input-format', 'procfs']);
    expect(forced.code).toBe(65);
  });

  it('usage errors: --at count, --watch, --window and reset with --input', async () => {
    platform.files.set('/c/a.txt', 'x');
    expect((await run(['list', '--input', '/c/a.txt', '--at', '2026-11-20T10:00:00Z,2026-11-20T10:01:00Z'])).code).toBe(65);
    expect((await run(['list', '--input', '/c/a.txt', '--watch'])).code).toBe(64);
    expect((await run(['check', '--input', '/c/a.txt', '--window', '10s'])).code).toBe(64);
    expect((await run(['reset', '--input', '/c/a.txt', '--state', 'CLOSE_WAIT'])).code).toBe(64);
    expect((await run(['list', '--at', '2026-11-20T10:00:00Z'])).code).toBe(64);
    expect((await run(['list', '--input', '/c/a.txt', '--at', 'yesterday'])).err).toContain('invalid time "yesterday"');
  });
});

describe('a Windows host, simulated through the exec seam with real captures', () => {
  beforeEach(() => {
    platform.os = 'win32';
  });

  /** netstat bytes as the console writes them: the capture re-encoded in the OEM code page. */
  function answers(netstatText: string, codePage: number, tasklist: string) {
    return (argv: readonly string[]) => {
      const command = argv.join(' ');
      if (command === 'cmd /d /c chcp') return { stdout: `Active code page: ${codePage}\r\n`, stderr: '', exitCode: 0 };
      if (command === 'netstat -a -n -o') return { stdout: iconv.encode(netstatText, `cp${codePage}`), stderr: '', exitCode: 0 };
      if (command === 'tasklist /fo csv /nh') return { stdout: iconv.encode(tasklist, `cp${codePage}`), stderr: '', exitCode: 0 };
      return Object.assign(new Error(`spawn ${argv[0]} ENOENT`), { code: 'ENOENT' });
    };
  }

  it('German netstat in CP850, two check runs a minute apart: the CLOSE_WAIT and FIN_WAIT_2 sessions are flagged with their owners', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const stateFile = join(await mkdtemp(join(tmpdir(), 'tcpdwell-win-')), 'state.json');
    platform.commands = [
      answers(readFixture('win-netstat-ano-de-DE-CRWinNetDiag-README.txt'), 850, '"svchost.exe","2588","Services","0","9.876 K"\r\n"Größenwahn.exe","12600","Console","1","1.024 K"\r\n'),
    ];
    const first = await run(['check', '--json', '--state-file', stateFile]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out).notices).toEqual([
      expect.stringMatching(/^Get-NetTCPConnection is not usable \(PowerShell \(powershell\.exe\) is not available\)/),
      'idle not measured for 24 ESTABLISHED connections: source netstat reports no activity counters',
    ]);
    platform.nowValue += 60_000;
    const second = await run(['check', '--json', '--state-file', stateFile]);
    expect(second.code).toBe(1);
    const report = JSON.parse(second.out);
    expect(report).toMatchObject({ source: 'netstat', counts: FIXTURE_STATE_COUNTS['win-netstat-ano-de-DE-CRWinNetDiag-README.txt'] });
    // Owners: the PID from netstat -o, the image name from tasklist (its CP850 bytes decoded).
    expect(report.flagged.map((f: JsonRow) => [f.state, f.rawState, f.dwellSeconds, f.flag!.kind, f.pid, f.process])).toEqual([
      ['FIN_WAIT_2', 'FIN_WARTEN_2', 60, 'half-close', 2588, 'svchost.exe'],
      ['CLOSE_WAIT', 'SCHLIESSEN_WARTEN', 60, 'half-close', 12600, 'Größenwahn.exe'],
    ]);
    // The listeners read ABHÖREN once decoded from CP850.
    const list = await run(['list', '--json', '--state', 'LISTEN']);
    expect(new Set((JSON.parse(list.out) as JsonRow[]).map((r) => r.rawState))).toEqual(new Set(['ABHÖREN']));
    // chcp is asked once per run, tasklist only while a pid is unnamed.
    expect(platform.ran.filter((a) => a[0] === 'cmd')).toHaveLength(3);
  });

  it('tasklist that fails leaves names unread, not absent: a count per process is UNKNOWN, not OK (session 11 break-it pass)', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'tcpdwell-win-'));
    try {
      const config = join(dir, 'tcpdwell.yml');
      await writeFile(config, 'counts:\n  - { name: leak, state: CLOSE_WAIT, per: process, warning: 100 }\n');
      const netstat = readFixture('win-netstat-ano-de-DE-CRWinNetDiag-README.txt');
      const named = answers(netstat, 850, '"svchost.exe","2588","Services","0","9.876 K"\r\n"x.exe","12600","Console","1","1.024 K"\r\n');
      platform.commands = [named];
      expect((await run(['check', '--no-state', '--config', config])).code).toBe(0);
      platform.commands = [(argv) => (argv[0] === 'tasklist' ? { stdout: new Uint8Array(), stderr: 'ERROR: Access denied', exitCode: 1 } : named(argv))];
      const failed = await run(['check', '--no-state', '--config', config]);
      expect(failed.code).toBe(3);
      expect(failed.out).toContain('tasklist failed: some process names are not known');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('Chinese netstat in CP936: header decoded, every row kept, nothing flagged', async () => {
    platform.commands = [answers(readFixture('win-netstat-na-zh-CN-issue-xorbitsai-inference-1053-EXCERPT.txt'), 936, '')];
    const { code, out, err } = await run(['check', '--json', '--no-state']);
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ status: 'ok', source: 'netstat', counts: { LISTEN: 18, ESTABLISHED: 1 }, flagged: [] });
    expect(err).toBe('');
  });

  it('--source powershell: one PowerShell session for every poll; CreationTime flags the old SYN_SENT at first sight', async () => {
    platform.nowValue = Date.parse('2026-11-20T10:00:00Z');
    const ps7 = readFixture('powershell7-get-nettcpconnection-constructed.json');
    platform.sessionAnswers = [() => ps7];
    platform.commands = [answers('', 437, '"chrome.exe","5120","Console","1","200.000 K"\r\n')];
    const { code, out } = await run(['list', '--json', '--source', 'powershell', '--watch', '1s', '--iterations', '3', '--state', 'SYN_SENT']);
    expect(code).toBe(0);
    const polls = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as JsonRow[]);
    expect(polls).toHaveLength(3);
    expect(polls[0]!.map((r) => [r.local.port, r.dwellSeconds, r.dwellSource, r.process, r.flag?.kind ?? null])).toEqual([
      [51234, 94.9, 'kernel', 'chrome.exe', 'half-open'],
      [51235, 11.9, 'kernel', 'chrome.exe', null],
    ]);
    expect(platform.sessionsOpened).toHaveLength(1);
    expect(platform.sessionInputs).toHaveLength(3);
    expect(platform.sessionsClosed).toBe(1);
  });

  it('netstat with an unknown word and PowerShell answering: the word is resolved from the enum, creation times added', async () => {
    platform.nowValue = Date.parse('2026-11-20T10:00:00Z');
    const netstat = '  TCP    10.1.2.3:51234         10.20.30.40:443        SYN_IRGENDWAS   5120\r\n  TCP    10.1.2.3:3389          10.9.8.7:62000         ESTABLISHED     1180\r\n';
    platform.commands = [answers(netstat, 850, '')];
    platform.sessionAnswers = [() => readFixture('powershell51-get-nettcpconnection-constructed.json')];
    const { out, err } = await run(['list', '--json']);
    expect((JSON.parse(out) as JsonRow[]).map((r) => [r.state, r.rawState, r.dwellSeconds, r.dwellSource])).toEqual([
      ['SYN_SENT', 'SYN_IRGENDWAS', 95, 'kernel'],
      ['ESTABLISHED', 'ESTABLISHED', 0, 'lower-bound'],
    ]);
    expect(err).toBe('');
  });
});

describe('--input of a router whose flows sit in a flowtable (conntrack -L)', () => {
  it('offloaded flows are ESTABLISHED with `offload` in the JSON and no idle time; the trailer counting more flows is a notice', async () => {
    // Written for the test: issue 12's [OFFLOAD] line, one [HW_OFFLOAD] line and one ordinary
    // entry, behind conntrack's stderr trailer counting 4 (one was lost).
    const text = [
      'conntrack v1.4.6 (conntrack-tools): 4 flow entries have been shown.',
      'tcp      6 src=192.0.2.59 dst=198.51.100.46 sport=51912 dport=5432 src=198.51.100.46 dst=192.0.2.59 sport=5432 dport=51912 [OFFLOAD] mark=0 use=2',
      'tcp      6 src=192.0.2.60 dst=198.51.100.46 sport=51913 dport=5432 src=198.51.100.46 dst=192.0.2.60 sport=5432 dport=51913 [HW_OFFLOAD] mark=0 use=2',
      'tcp      6 86399 ESTABLISHED src=192.0.2.61 dst=198.51.100.46 sport=51914 dport=5432 src=198.51.100.46 dst=192.0.2.61 sport=5432 dport=51914 [ASSURED] mark=0 use=1',
    ].join('\n');
    platform.files.set('/c/router.txt', new TextEncoder().encode(text));
    const { code, out, err } = await run(['list', '--json', '--input', '/c/router.txt', '--at', '2026-11-20T10:00:00Z']);
    expect(code).toBe(0);
    const rows = JSON.parse(out) as (JsonRow & { offload: string | null; idleSeconds: number | null })[];
    expect(rows.map((r) => [r.local.port, r.state, r.rawState, r.offload, r.idleSeconds])).toEqual([
      [51912, 'ESTABLISHED', '[OFFLOAD]', 'software', null],
      [51913, 'ESTABLISHED', '[HW_OFFLOAD]', 'hardware', null],
      [51914, 'ESTABLISHED', 'ESTABLISHED', null, null],
    ]);
    expect(err).toContain('/c/router.txt: line 1: conntrack says 4 flow entries were shown, but the text holds 3: 1 is missing (filtered out, e.g. by grep, or the capture was cut)');
    expect(err).not.toContain('malformed');
  });
});

describe('--input: one 4-tuple listed twice in one captured table', () => {
  // The ss fixture with two of its lines repeated, as written for the test: the CLOSE-WAIT flow
  // again as ESTAB (a table taken mid-change, or one 4-tuple in use twice), an ESTAB flow again as is.
  const original = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt').split('\n');
  const closeWait = original.findIndex((l) => l.startsWith('CLOSE-WAIT 1      0               127.0.0.1:34928'));
  const estab = original.findIndex((l) => l.startsWith('ESTAB      0      0               127.0.0.1:44865'));
  const doubled = [...original, original[closeWait]!.replace('CLOSE-WAIT', 'ESTAB     '), original[closeWait + 1]!, original[estab]!, original[estab + 1]!].join('\n');

  it('is counted and named in a notice, never merged silently; the first row is the one kept', async () => {
    platform.files.set('/captures/doubled.txt', doubled);
    const { code, out, err } = await run(['list', '--input', '/captures/doubled.txt', '--json']);
    expect(code).toBe(0);
    const rows = JSON.parse(out) as JsonRow[];
    expect(rows.filter((r) => r.local.port === 34928).map((r) => r.state)).toEqual(['CLOSE_WAIT']);
    expect(err).toContain(
      'tcpdwell: /captures/doubled.txt: 2 rows repeat a 4-tuple listed earlier in the table, and only the first is kept (first: tcp 127.0.0.1:34928 -> 127.0.0.1:46103, ESTABLISHED after CLOSE_WAIT): a table taken while it changed, or one 4-tuple in use twice\n',
    );
    // The capture without repeats says nothing of the kind.
    platform.files.set('/captures/once.txt', original.join('\n'));
    expect((await run(['list', '--input', '/captures/once.txt'])).err).not.toContain('repeat');
  });

  it('check --json carries it among its notices', async () => {
    platform.files.set('/captures/doubled.txt', doubled);
    const { out } = await run(['check', '--input', '/captures/doubled.txt', '--json']);
    expect((JSON.parse(out) as { notices: string[] }).notices.some((n) => n.startsWith('/captures/doubled.txt: 2 rows repeat a 4-tuple'))).toBe(true);
  });
});
