import iconv from 'iconv-lite';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseTimestamp } from '../../src/core/timestamp.js';
import { FakePlatform, runOn } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// Captures that used to read as less than they hold (a false OK): lines ended by CR alone, an
// `ss -a` capture cut before its tcp part, net-tools words of later translations, state words
// nobody knows, capture times guessed, and files that mix encodings. Found by the break-it pass.

let platform: FakePlatform;
beforeEach(() => {
  platform = new FakePlatform();
});
const run = (argv: string[]) => runOn(platform, argv);

describe('a capture whose lines end in CR alone', () => {
  it('reads as the same capture with LF: the same report, not an empty table', async () => {
    const lf = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
    platform.files.set('/c/lf.txt', lf);
    platform.files.set('/c/cr.txt', lf.replace(/\n/g, '\r'));
    const withLf = await run(['check', '--no-state', '--half-close', '1s', '--input', '/c/lf.txt']);
    const withCr = await run(['check', '--no-state', '--half-close', '1s', '--input', '/c/cr.txt']);
    expect(withLf.code).toBe(1);
    expect(withCr.out.replaceAll('/c/cr.txt', '/c/lf.txt')).toBe(withLf.out);
    expect(withCr.code).toBe(1);
    // A final newline (or CRLF) added to such a file does not make it one line.
    for (const end of ['\n', '\r\n']) {
      platform.files.set('/c/cr.txt', `${lf.replace(/\n$/, '').replace(/\n/g, '\r')}${end}`);
      const ended = await run(['check', '--no-state', '--half-close', '1s', '--input', '/c/cr.txt']);
      expect(ended.out.replaceAll('/c/cr.txt', '/c/lf.txt')).toBe(withLf.out);
    }
  });
  // A CR inside an LF-ended line stays in its line: test/cli/hostile-input.test.ts has process names holding one.
});

describe('a CR alone inside an LF-ended capture (line ends mixed)', () => {
  // Real captures, with one line end replaced by a CR alone (the row after it joined to the row
  // before), or a CR put inside a row: break-it pass, session 11. Before: the joined row was lost
  // with no word (ss, /proc/net/tcp, net-tools and Windows netstat, conntrack).
  const join = (text: string, line: number) => {
    const lines = text.split('\n');
    return [...lines.slice(0, line - 1), `${lines[line - 1]}\r${lines[line]}`, ...lines.slice(line + 1)].join('\n');
  };
  const rowsOf = async (path: string) => (JSON.parse((await run(['list', '--json', '--input', path])).out) as unknown[]).length;

  for (const [fixture, line] of [
    ['linux-ss-tanoie-park-sockets-kernel6.txt', 24],
    ['linux-proc-net-tcp-tcp6-park-sockets-kernel6.txt', 14],
    ['linux-netstat-tan-es-ES-issue-wazuh-3071.txt', 4],
    ['win-netstat-ano-de-DE-CRWinNetDiag-output.txt', 167],
    ['linux-nf-conntrack-park-sockets-kernel6.txt', 6],
  ] as const) {
    it(`${fixture}: two rows joined by a CR are both read, and the line is named`, async () => {
      const text = readFixture(fixture);
      platform.files.set('/c/lf.txt', text);
      platform.files.set('/c/mixed.txt', join(text, line));
      expect(await rowsOf('/c/mixed.txt')).toBe(await rowsOf('/c/lf.txt'));
      const { err } = await run(['list', '--input', '/c/mixed.txt']);
      expect(err).toContain(`/c/mixed.txt: line ${line} holds a carriage return alone that ends a row (line ends mixing CR and LF): read as separate lines`);
    });
  }

  it('a CR inside an address: that row is a skipped line with its number, not read as another row', async () => {
    const text = readFixture('win-netstat-ano-de-DE-CRWinNetDiag-output.txt');
    const lines = text.split('\n');
    lines[166] = `${lines[166]!.slice(0, 20)}\r${lines[166]!.slice(20)}`;
    platform.files.set('/c/cut.txt', lines.join('\n'));
    platform.files.set('/c/lf.txt', text);
    expect(await rowsOf('/c/cut.txt')).toBe((await rowsOf('/c/lf.txt')) - 1);
    const { err } = await run(['list', '--input', '/c/cut.txt']);
    expect(err).toMatch(/skipped 1 malformed line \(first: line 167: /);
  });

  it('a fragment after a CR that would be dropped unseen is a skipped line with the file’s line number', async () => {
    const text = readFixture('linux-proc-net-tcp-tcp6-park-sockets-kernel6.txt');
    const lines = text.split('\n');
    // A row cut short after its CR (as a terminal's copy may leave it): /proc/net/tcp's reader takes
    // the columns it needs and would drop the rest.
    lines[13] = `${lines[13]}\r   7: 0100007F:B9`;
    platform.files.set('/c/frag.txt', lines.join('\n'));
    platform.files.set('/c/lf.txt', text);
    expect(await rowsOf('/c/frag.txt')).toBe(await rowsOf('/c/lf.txt'));
    const { err } = await run(['list', '--input', '/c/frag.txt']);
    expect(err).toMatch(/skipped 1 malformed line \(first: line 14: /);
  });
});

describe('an ss -a capture (Netid column) with no tcp row', () => {
  const full = readFixture('linux-ss-a-centos7-jc.txt');
  const lines = full.split('\n');
  const cut = lines
    .slice(
      0,
      lines.findIndex((l) => l.startsWith('tcp ')),
    )
    .join('\n');

  it('is not an empty table: the file is skipped with the reason, check is UNKNOWN', async () => {
    platform.files.set('/c/cut.txt', cut);
    const listed = await run(['list', '--input', '/c/cut.txt']);
    expect(listed.code).toBe(65);
    expect(listed.err).toContain('rows of other protocols and no tcp row: the tcp part of the table is not in it');
    const checked = await run(['check', '--no-state', '--input', '/c/cut.txt']);
    expect(checked.code).toBe(3);
    expect(checked.out).not.toMatch(/OK/);
  });

  it('the whole capture still reads its tcp rows', async () => {
    platform.files.set('/c/full.txt', full);
    const { code, out } = await run(['list', '--json', '--input', '/c/full.txt']);
    expect(code).toBe(0);
    expect((JSON.parse(out) as unknown[]).length).toBeGreaterThan(0);
  });
});

describe('net-tools state words', () => {
  const spanish = readFixture('linux-netstat-tan-es-ES-issue-wazuh-3071.txt');

  it('Swedish and Catalan (net-tools po/sv.po, po/ca.po) map to their states', async () => {
    for (const [word, state] of [
      ['STÄNG_VÄNTA', 'CLOSE_WAIT'],
      ['CLOSEWAIT', 'CLOSE_WAIT'],
      ['ETABLERAD', 'ESTABLISHED'],
      ['TEMPS', 'TIME_WAIT'],
      ['LASTACK', 'LAST_ACK'],
    ]) {
      platform.files.set('/c/t.txt', spanish.replace('ESTABLECIDO', word!));
      const { out } = await run(['list', '--json', '--input', '/c/t.txt']);
      expect((JSON.parse(out) as { state: string; rawState: string }[]).find((r) => r.rawState === word)?.state).toBe(state);
    }
  });

  it('a state word nobody knows is not judged: check is UNKNOWN, naming the word, not OK', async () => {
    platform.files.set('/c/t.txt', spanish.replace('ESTABLECIDO', 'WEIRD'));
    const { code, out } = await run(['check', '--no-state', '--input', '/c/t.txt', '--json']);
    expect(code).toBe(3);
    const report = JSON.parse(out) as { status: string; errors: string[] };
    expect(report.status).toBe('unknown');
    expect(report.errors).toContain('1 session in a state tcpdwell does not know (WEIRD): not judged');
  });
});

describe('capture times', () => {
  it('RFC 3339 with a zone; no zone, a day not in the calendar, or a time of day not on the clock is refused', () => {
    expect(parseTimestamp('2026-11-20T09:00:00Z')).toBe(Date.UTC(2026, 10, 20, 9));
    expect(parseTimestamp('2026-11-20 09:00+01:00')).toBe(Date.UTC(2026, 10, 20, 8));
    expect(parseTimestamp('2026-11-20t09:00:00.25-0130')).toBe(Date.UTC(2026, 10, 20, 10, 30, 0, 250));
    expect(parseTimestamp('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(parseTimestamp('2026-11-20 09:00')).toBe('no time zone (add Z for UTC, or an offset such as +01:00)');
    expect(parseTimestamp('2026-11-20')).toBe('no time zone (add Z for UTC, or an offset such as +01:00)');
    expect(parseTimestamp('2026-02-30T00:00:00Z')).toBe('2026-02-30 is not a day of the calendar');
    expect(parseTimestamp('2100-02-29T00:00:00Z')).toBe('2100-02-29 is not a day of the calendar');
    expect(parseTimestamp('2026-11-20T24:00:00Z')).toBe('24:00:00 is not a time of day');
    expect(parseTimestamp('2026-11-20T09:00:00+25:00')).toBe('+25:00 is not a zone offset');
    expect(parseTimestamp('garbage')).toBe('not an RFC 3339 time such as 2026-11-21T05:30:00Z');
  });

  it('a "# captured at" time that cannot be read skips the file with the reason; --at stands in for it', async () => {
    const body = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt').replace(/^# captured at .*\n/, '');
    for (const [line, why] of [
      ['# captured at 2026-11-20 09:00', '"# captured at 2026-11-20 09:00": no time zone'],
      ['# captured at 2026-02-30T09:00:00Z', '2026-02-30 is not a day of the calendar'],
      ['# captured at garbage', '"# captured at garbage": not an RFC 3339 time'],
    ]) {
      platform.files.set('/c/t.txt', `${line}\n${body}`);
      const { code, err } = await run(['list', '--input', '/c/t.txt']);
      expect(code).toBe(65);
      expect(err).toContain(why);
      expect(err).toContain('give it with --at');
      expect((await run(['list', '--input', '/c/t.txt', '--at', '2026-11-20T09:00:00Z'])).code).toBe(0);
    }
    platform.files.set('/c/t.txt', `# captured at 2026-11-20 09:00:00Z, host a\n${body}`);
    expect((await run(['list', '--input', '/c/t.txt'])).code).toBe(0);
  });

  it('--at refuses what it would have guessed', async () => {
    platform.files.set('/c/t.txt', readFixture('linux-ss-tanoi-stuck-states-kernel6.txt'));
    const { code, err } = await run(['list', '--input', '/c/t.txt', '--at', '2026-02-30T00:00:00Z']);
    expect(code).toBe(64);
    expect(err).toContain('invalid time "2026-02-30T00:00:00Z": 2026-02-30 is not a day of the calendar');
  });
});

describe('a file that mixes encodings', () => {
  const netstat = readFixture('win-netstat-aon-en-US-jc-windows10.txt');
  const line = '  TCP    10.1.2.3:50110         10.50.0.9:8080         CLOSE_WAIT      4242\r\n';

  it('UTF-16 with a single-byte line appended (cmd >> onto PowerShell > output) is skipped with the reason', async () => {
    platform.files.set('/c/m.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(netstat, 'utf16le'), Buffer.from(line, 'latin1')]));
    const { code, out, err } = await run(['check', '--no-state', '--input', '/c/m.txt']);
    expect(code).toBe(3);
    expect(out + err).toContain('mixes UTF-16 with single-byte text');
  });

  it('UTF-8 with a UTF-16 line appended is skipped too; each encoding alone reads', async () => {
    platform.files.set('/c/m.txt', Buffer.concat([Buffer.from(netstat, 'utf8'), iconv.encode(line, 'utf16le')]));
    expect((await run(['list', '--input', '/c/m.txt'])).err).toContain('mixes UTF-16 with single-byte text');
    platform.files.set('/c/u16.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(netstat + line, 'utf16le')]));
    const { code, out } = await run(['list', '--json', '--input', '/c/u16.txt']);
    expect(code).toBe(0);
    expect((JSON.parse(out) as { pid: number | null }[]).some((r) => r.pid === 4242)).toBe(true);
  });
});
