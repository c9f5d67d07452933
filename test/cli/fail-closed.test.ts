import { beforeEach, describe, expect, it } from 'vitest';
import { Monitor } from '../../src/app/monitor.js';
import { runCli } from '../../src/cli/run.js';
import type { CliContext } from '../../src/cli/context.js';
import { defaultPolicy } from '../../src/core/policy.js';
import { runDashboard } from '../../src/dashboard/dashboard.js';
import { SystemInformationSource } from '../../src/sources/portable/systeminformation.js';
import { requireTable } from '../../src/sources/select-source.js';
import { FakePlatform, fakeContext, parkSocketsHost } from '../fake-platform.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countBy, readFixture, readFixtureBytes } from '../fixture.js';
import { FIXTURE_STATE_COUNTS } from '../fixture-counts.js';
import { fakeTerminal } from '../fake-terminal.js';

// Fail closed (issues 12.6, 12.7, 13.10): nothing read is never "all clear". Every input format
// pasted in every shape reads as the capture itself; input with lines but no row is unread (list
// 65, check UNKNOWN 3 naming the file); a live source that read nothing is a failed poll; and a
// table that is really empty (the tool's header, no rows) stays an empty table.

let platform: FakePlatform;

beforeEach(() => {
  platform = new FakePlatform();
  platform.files.set('/proc/uptime', '3600.00 7100.00\n');
});

async function run(argv: string[]) {
  const context = fakeContext(platform);
  const code = await runCli(argv, context, '0.1.0');
  return { code, out: context.out(), err: context.err() };
}

type JsonRow = { state: string; local: { address: string; port: number } };

// ---------------------------------------------------------------------------------------------
// Pasted captures: every real capture in test/fixtures, re-indented or quoted the ways people paste.

/** The prompt that would have run the tool of each capture. */
function promptFor(name: string): string {
  if (name.startsWith('linux-ss')) return 'user@web1:~$ ss -tanoi';
  if (name.startsWith('linux-proc')) return '[root@web1 ~]# cat /proc/net/tcp /proc/net/tcp6';
  if (name.startsWith('linux-netstat')) return '$ netstat -tan';
  if (name.startsWith('linux-nf-conntrack')) return 'root@router:~# cat /proc/net/nf_conntrack';
  if (name.startsWith('macos')) return 'mac% netstat -An';
  if (name.startsWith('powershell')) return 'PS C:\\Users\\ops> Get-NetTCPConnection | ConvertTo-Json';
  return 'C:\\Users\\ops>netstat -ano';
}

const SHAPES: Record<string, (lines: string[], name: string) => string[]> = {
  '4 spaces (Markdown code block)': (lines) => lines.map((l) => `    ${l}`),
  'a tab': (lines) => lines.map((l) => `\t${l}`),
  '`> ` (e-mail quote)': (lines) => lines.map((l) => `> ${l}`),
  'nested `> > `': (lines) => lines.map((l) => (l.trim() === '' ? '> >' : `> > ${l}`)),
  'a prompt line first, then indented': (lines, name) => [promptFor(name), ...lines.map((l) => `    ${l}`)],
  'a ``` fence around it, with the prompt': (lines, name) => ['```console', promptFor(name), ...lines, '```'],
  'CRLF and 2 spaces': (lines) => lines.map((l) => `  ${l}`),
};

/** The fixture's text re-shaped, in the fixture's own bytes (Latin-1 and UTF-16 captures stay so). */
function pasted(name: string, shape: (lines: string[], name: string) => string[], crlf: boolean): Uint8Array {
  const bytes = Buffer.from(readFixtureBytes(name));
  const utf16 = bytes[0] === 0xff && bytes[1] === 0xfe;
  // latin1 round-trips any byte, so UTF-8 and single-byte code pages come back byte-exact.
  const text = utf16 ? bytes.subarray(2).toString('utf16le') : bytes.toString('latin1');
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
  const out = shape(lines, name).join(crlf ? '\r\n' : '\n');
  return utf16 ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(out, 'utf16le')]) : Buffer.from(out, 'latin1');
}

describe('a pasted capture reads as the capture itself, in every format and every shape', () => {
  for (const [name, counts] of Object.entries(FIXTURE_STATE_COUNTS)) {
    for (const [shapeName, shape] of Object.entries(SHAPES)) {
      it(`${name}, ${shapeName}`, async () => {
        platform.files.set('/paste/table.txt', pasted(name, shape, shapeName.startsWith('CRLF')));
        const { code, out, err } = await run(['list', '--json', '--input', '/paste/table.txt']);
        expect(err).not.toMatch(/skipped|cannot tell/);
        expect(code).toBe(0);
        expect(countBy(JSON.parse(out) as JsonRow[], (r) => r.state)).toEqual(counts);
      });
    }
  }

  it('issue 12 item 6, as written: the indented ss table is one SYN_SENT row, with a prompt line first or without', async () => {
    // Written for the test: the minimal input (ss -ant, every line indented by 4 spaces).
    const table = '    State      Recv-Q Send-Q Local Address:Port    Peer Address:Port\n    SYN-SENT   0      1      192.0.2.10:46460      198.51.100.7:8080\n';
    for (const text of [table, `$ ss -ant\n${table}`]) {
      platform.files.set('/paste/issue.txt', text);
      const { code, out } = await run(['list', '--json', '--input', '/paste/issue.txt']);
      expect(code).toBe(0);
      expect((JSON.parse(out) as JsonRow[]).map((r) => [r.state, r.local.port])).toEqual([['SYN_SENT', 46460]]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Offline input that holds no row: never OK.

// Written for the test: text that is no table (a customer's message), in a pasted shape.
const PROSE = '> Hello, the server is slow again.\n>\n> Regards, Ops\n';

describe('--input that read nothing is never OK', () => {
  it('list: exit 65 with the reason; check text, JSON and Nagios: UNKNOWN, exit 3, naming the file', async () => {
    platform.files.set('/c/mail.txt', PROSE);
    const list = await run(['list', '--input', '/c/mail.txt']);
    expect(list).toMatchObject({ code: 65, out: '' });
    expect(list.err).toMatch(/^tcpdwell: no socket table in \/c\/mail\.txt: \/c\/mail\.txt: cannot tell which tool wrote it/);

    const text = await run(['check', '--input', '/c/mail.txt']);
    expect(text.code).toBe(3);
    expect(text.out).toMatch(/^tcpdwell UNKNOWN - \/c\/mail\.txt: cannot tell which tool wrote it .* \(source input\)\n$/);
    const json = await run(['check', '--json', '--input', '/c/mail.txt']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.out)).toMatchObject({ status: 'unknown', source: 'input', errors: [expect.stringContaining('/c/mail.txt: cannot tell which tool wrote it')], flagged: [] });
    const nagios = await run(['check', '--format', 'nagios', '--input', '/c/mail.txt']);
    expect(nagios.code).toBe(3);
    expect(nagios.out).toMatch(/^TCPDWELL UNKNOWN - \/c\/mail\.txt: cannot tell which tool wrote it/);
    const explain = await run(['explain', '1', '--input', '/c/mail.txt']);
    expect(explain.code).toBe(65);
  });

  it('a forced --input-format that recognises nothing, in every format: list 65, check UNKNOWN naming the file', async () => {
    // Real captures read as a format they are not: no row of that format, or none at all.
    const wrong: [string, string][] = [
      ['procfs', 'linux-ss-tanoi-stuck-states-kernel6.txt'],
      ['ss', 'linux-proc-net-tcp-jc.txt'],
      ['linux-netstat', 'win-netstat-an-en-US-jc-windows10.txt'],
      ['windows-netstat', 'macos-netstat-An-10.14.6-jc.txt'],
      ['macos-netstat', 'linux-nf-conntrack-park-sockets-kernel6.txt'],
      ['conntrack', 'linux-netstat-tan-es-ES-issue-wazuh-3071.txt'],
      ['powershell', 'linux-ss-tanoi-stuck-states-kernel6.txt'],
    ];
    for (const [format, fixture] of wrong) {
      platform.files.set('/c/t.txt', readFixtureBytes(fixture));
      const list = await run(['list', '--json', '--input', '/c/t.txt', '--input-format', format]);
      expect([format, list.code, list.out]).toEqual([format, 65, '']);
      expect(list.err).toContain(`/c/t.txt: cannot be read as ${format} output`);
      const check = await run(['check', '--json', '--input', '/c/t.txt', '--input-format', format]);
      expect([format, check.code, JSON.parse(check.out).status]).toEqual([format, 3, 'unknown']);
      expect(JSON.parse(check.out).errors[0]).toContain(`/c/t.txt: cannot be read as ${format} output`);
    }
  });

  it('a header over rows that are all malformed is unread, not empty', async () => {
    // Written for the test: ss's header, then two rows whose queue columns are cut.
    platform.files.set('/c/ss.txt', 'State      Recv-Q Send-Q Local Address:Port    Peer Address:Port\nESTAB      0\nCLOSE-WAIT 1\n');
    const list = await run(['list', '--input', '/c/ss.txt']);
    expect(list.code).toBe(65);
    expect(list.err).toContain('/c/ss.txt: cannot be read as ss output (no row could be read: 2 malformed (first: line 2: truncated row');
    expect((await run(['check', '--input', '/c/ss.txt'])).code).toBe(3);
  });

  it('one unread file beside good ones: what the good ones hold is shown, and the answer is not OK', async () => {
    platform.files.set('/c/good.txt', readFixtureBytes('linux-netstat-nat-de-DE-pr-dasource-partyman-32.txt'));
    platform.files.set('/c/mail.txt', PROSE);
    const list = await run(['list', '--json', '--input', '/c/good.txt', '/c/mail.txt']);
    expect(list.code).toBe(65);
    expect(JSON.parse(list.out)).toHaveLength(4);
    expect(list.err).toContain('tcpdwell: /c/mail.txt: cannot tell which tool wrote it');
    // Nothing flagged in the good file, but the other may hold anything: UNKNOWN, naming it.
    const check = await run(['check', '--input', '/c/good.txt', '/c/mail.txt']);
    expect(check.code).toBe(3);
    expect(check.out).toMatch(/\ntcpdwell UNKNOWN - \/c\/mail\.txt: cannot tell which tool wrote it/);
    const nagios = await run(['check', '--format', 'nagios', '--input', '/c/good.txt', '/c/mail.txt']);
    expect(nagios.out).toMatch(/^TCPDWELL UNKNOWN - \/c\/mail\.txt/);
    // A missing file beside a good one: 66.
    expect((await run(['list', '--input', '/c/good.txt', '/c/missing.txt'])).code).toBe(66);
    // explain finds the connection in the good file, shows it, and still says the input was not all read.
    const explain = await run(['explain', '172.17.1.200:36408-193.36.237.25:51738', '--input', '/c/good.txt', '/c/mail.txt']);
    expect(explain.code).toBe(65);
    expect(explain.out).toContain('ESTABLISHED 172.17.1.200:36408 -> 193.36.237.25:51738');
    const notFound = await run(['explain', '10.9.9.9:1-10.9.9.8:2', '--input', '/c/good.txt', '/c/mail.txt']);
    expect(notFound.code).toBe(65);
  });

  it('watch replaying captures names the unread file and exits 65', async () => {
    platform.files.set('/c/good.txt', readFixtureBytes('linux-netstat-nat-de-DE-pr-dasource-partyman-32.txt'));
    platform.files.set('/c/mail.txt', PROSE);
    const watch = await run(['watch', '--events', '--input', '/c/good.txt', '/c/mail.txt']);
    expect(watch.code).toBe(65);
    expect(watch.err).toMatch(/^tcpdwell: \/c\/mail\.txt: cannot tell which tool wrote it .*; skipped\n$/);
    expect(watch.out.trim().split('\n')).toHaveLength(4);
  });

  it('what the good file proves stands: a WARNING stays a WARNING, with the unread file named', async () => {
    platform.files.set('/c/stuck.txt', readFixtureBytes('linux-ss-tanoi-stuck-states-kernel6.txt'));
    platform.files.set('/c/empty.txt', '   \n');
    const check = await run(['check', '--json', '--input', '/c/stuck.txt', '/c/empty.txt', '--half-close', '5s']);
    expect(check.code).toBe(1);
    const report = JSON.parse(check.out);
    expect(report.status).toBe('warning');
    expect(report.errors).toEqual(['/c/empty.txt is empty']);
  });

  it('a real empty table (the tool’s header, no rows) is not a failure: list [] exit 0, check OK', async () => {
    // Written for the test, in each tool's own header shape: ss in a namespace with no sockets,
    // the kernel's two /proc/net/tcp* headers, net-tools and macOS netstat, Get-NetTCPConnection `[]`.
    const empties: [string, string, string[]][] = [
      ['ss', 'State      Recv-Q Send-Q Local Address:Port    Peer Address:Port\n', []],
      [
        'procfs',
        '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n',
        [],
      ],
      ['linux-netstat', 'Active Internet connections (servers and established)\nProto Recv-Q Send-Q Local Address           Foreign Address         State\n', ['--input-format', 'linux-netstat']],
      ['macos-netstat', 'Active Internet connections (including servers)\nProto Recv-Q Send-Q  Local Address          Foreign Address        (state)\n', ['--input-format', 'macos-netstat']],
      ['powershell', '[]\n', []],
    ];
    for (const [format, text, extra] of empties) {
      // Pasted, too: the header alone still reads once unwrapped.
      platform.files.set('/c/empty-table.txt', text.replace(/^(?=.)/gm, '    '));
      const list = await run(['list', '--json', '--input', '/c/empty-table.txt', ...extra]);
      expect([format, list.code, list.out]).toEqual([format, 0, '[]\n']);
      expect(list.err).toContain('the table is empty');
      const check = await run(['check', '--json', '--input', '/c/empty-table.txt', ...extra]);
      expect([format, check.code]).toEqual([format, 0]);
      expect(JSON.parse(check.out)).toMatchObject({ status: 'ok', counts: {}, flagged: [], errors: [] });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Live sources through the exec/fs seam.

const SS_HEADER = 'State      Recv-Q Send-Q Local Address:Port    Peer Address:Port\n';

describe('a live source that read nothing is a failed poll; its empty table is not', () => {
  it('ss printing nothing at all: list exit 3, check UNKNOWN in text, JSON and Nagios', async () => {
    platform.commands = [() => ({ stdout: '', stderr: '', exitCode: 0 })];
    const list = await run(['list', '--json']);
    expect(list).toMatchObject({ code: 3, out: '' });
    expect(list.err).toBe('tcpdwell: cannot read the socket table (source ss): ss read no socket table (ss printed neither its header nor a socket)\n');
    const check = await run(['check', '--no-state']);
    expect(check).toMatchObject({ code: 3, out: 'tcpdwell UNKNOWN - ss read no socket table (ss printed neither its header nor a socket) (source ss)\n' });
    const json = await run(['check', '--json', '--no-state']);
    expect(JSON.parse(json.out)).toMatchObject({ status: 'unknown', errors: ['ss read no socket table (ss printed neither its header nor a socket)'] });
    const nagios = await run(['check', '--format', 'nagios', '--no-state']);
    expect(nagios).toMatchObject({ code: 3, out: 'TCPDWELL UNKNOWN - ss read no socket table (ss printed neither its header nor a socket) (source ss)\n' });
    expect((await run(['explain', '1'])).code).toBe(3);
  });

  it('ss printing its header only (a namespace with no sockets): an empty table, OK', async () => {
    platform.commands = [() => ({ stdout: SS_HEADER, stderr: '', exitCode: 0 })];
    expect(await run(['list', '--json'])).toMatchObject({ code: 0, out: '[]\n', err: '' });
    const check = await run(['check', '--json', '--no-state']);
    expect(check.code).toBe(0);
    expect(JSON.parse(check.out)).toMatchObject({ status: 'ok', source: 'ss', counts: {}, errors: [] });
    expect((await run(['check', '--format', 'nagios', '--no-state'])).out).toMatch(/^TCPDWELL OK - nothing flagged of 0 connections \|/);
  });

  it('ss printing its header over lines that are all malformed: a failed poll naming the first bad line', async () => {
    platform.commands = [() => ({ stdout: `${SS_HEADER}ESTAB 0\n`, stderr: '', exitCode: 0 })];
    const check = await run(['check', '--no-state']);
    expect(check.code).toBe(3);
    expect(check.out).toContain('ss read no socket table (ss printed neither its header nor a socket; ss: skipped 1 malformed line (first: line 2: truncated row');
  });

  it('procfs: empty files are a failed poll; the kernel headers alone are an empty table', async () => {
    platform.files.set('/proc/net/tcp', '');
    platform.files.set('/proc/net/tcp6', '');
    const failed = await run(['check', '--source', 'procfs', '--no-state']);
    expect(failed.code).toBe(3);
    expect(failed.out).toBe("tcpdwell UNKNOWN - /proc/net/tcp: no header and no row: not the kernel's table; /proc/net/tcp6: no header and no row: not the kernel's table (source procfs)\n");
    platform.files.set('/proc/net/tcp', '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n');
    platform.files.set('/proc/net/tcp6', '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n');
    expect(await run(['list', '--json', '--source', 'procfs'])).toMatchObject({ code: 0, out: '[]\n', err: '' });
  });

  it('conntrack: an empty nf_conntrack is no flow (the kernel file has no header); one the parser cannot read is a failed poll, not a crash', async () => {
    platform.files.set('/proc/net/nf_conntrack', '');
    expect(await run(['list', '--json', '--source', 'conntrack'])).toMatchObject({ code: 0, out: '[]\n' });
    platform.files.set('/proc/net/nf_conntrack', 'this is not a conntrack table\n');
    const failed = await run(['check', '--source', 'conntrack', '--no-state']);
    expect(failed).toMatchObject({ code: 3, out: 'tcpdwell UNKNOWN - conntrack: no conntrack entries (source conntrack) \n'.replace(' \n', '\n') });
  });

  it('issue 13 item 10: --source netstat or powershell on Linux is refused, exit 3, before running anything', async () => {
    // Written for the test: net-tools `netstat -a -n -o` lines, what Linux would answer.
    platform.commands = [
      () => ({
        stdout:
          'Active Internet connections (servers and established)\nProto Recv-Q Send-Q Local Address Foreign Address State Timer\ntcp        0      0 0.0.0.0:22 0.0.0.0:* LISTEN off (0.00/0/0)\n',
        stderr: '',
        exitCode: 0,
      }),
    ];
    const list = await run(['list', '--source', 'netstat']);
    expect(list.code).toBe(3);
    expect(list.err).toBe('tcpdwell: --source netstat is made for Windows, not Linux; here use --source netlink or --source ss or --source procfs (or --input with a capture)\n');
    expect(platform.ran).toEqual([]);
    const nagios = await run(['check', '--format', 'nagios', '--source', 'netstat']);
    expect(nagios).toMatchObject({
      code: 3,
      out: 'TCPDWELL UNKNOWN - --source netstat is made for Windows, not Linux; here use --source netlink or --source ss or --source procfs (or --input with a capture)\n',
    });
    expect((await run(['check', '--source', 'powershell', '--no-state'])).code).toBe(3);
    platform.os = 'win32';
    expect((await run(['list', '--source', 'ss'])).err).toBe(
      'tcpdwell: --source ss is made for Linux, not Windows; here use --source netstat or --source systeminformation (or --input with a capture)\n',
    );
    expect((await run(['list', '--source', 'procfs'])).code).toBe(3);
    platform.os = 'darwin';
    expect((await run(['list', '--source', 'conntrack'])).err).toContain('--source conntrack is made for Linux, not macOS; here use --source systeminformation');
  });

  it('Windows netstat printing nothing is a failed poll; only UDP rows is an empty TCP table', async () => {
    platform.os = 'win32';
    const answer = (netstat: string) => (argv: readonly string[]) => {
      const command = argv.join(' ');
      if (command === 'cmd /d /c chcp') return { stdout: 'Active code page: 437\r\n', stderr: '', exitCode: 0 };
      if (command === 'netstat -a -n -o') return { stdout: netstat, stderr: '', exitCode: 0 };
      return Object.assign(new Error(`spawn ${argv[0]} ENOENT`), { code: 'ENOENT' });
    };
    platform.commands = [answer('\r\n')];
    const failed = await run(['check', '--source', 'netstat', '--no-state']);
    expect(failed).toMatchObject({ code: 3, out: 'tcpdwell UNKNOWN - netstat read no socket table (netstat printed no table) (source netstat)\n' });
    // Written for the test, in netstat -ano's shape: a host whose table holds one UDP socket.
    platform.commands = [
      answer(
        '\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n  UDP    0.0.0.0:500            *:*                                    4\r\n',
      ),
    ];
    expect(await run(['list', '--json', '--source', 'netstat'])).toMatchObject({ code: 0, out: '[]\n' });
  });

  it('PowerShell answering nothing is a failed poll; `[]` is an empty table', async () => {
    platform.os = 'win32';
    platform.commands = [() => ({ stdout: '', stderr: '', exitCode: 0 })];
    platform.sessionAnswers = [() => '\r\n'];
    const failed = await run(['check', '--json', '--source', 'powershell', '--no-state']);
    expect(failed.code).toBe(3);
    expect(JSON.parse(failed.out)).toMatchObject({ status: 'unknown', errors: ['powershell read no socket table (Get-NetTCPConnection answered nothing)'] });
    platform.sessionAnswers = [() => '[]\r\n'];
    expect(await run(['list', '--json', '--source', 'powershell'])).toMatchObject({ code: 0, out: '[]\n' });
  });

  it('systeminformation answering an empty list (what it does when its command fails) is a failed poll', async () => {
    const source = new SystemInformationSource(async () => async () => []);
    await expect(source.read().then(requireTable)).rejects.toThrow('systeminformation read no socket table (the library answers an empty list when its command (netstat or ss) fails)');
    const one = new SystemInformationSource(async () => async () => [
      { protocol: 'tcp', localAddress: '127.0.0.1', localPort: '22', peerAddress: '0.0.0.0', peerPort: '*', state: 'LISTEN', pid: 1, process: 'sshd' },
    ]);
    expect(requireTable(await one.read()).rows).toHaveLength(1);
    // Records of other protocols only: the library did read a table, with no TCP in it.
    const udp = new SystemInformationSource(async () => async () => [
      { protocol: 'udp', localAddress: '0.0.0.0', localPort: '53', peerAddress: '*', peerPort: '*', state: '', pid: 1, process: 'dnsmasq' },
    ]);
    expect(requireTable(await udp.read()).rows).toEqual([]);
  });
});

/**
 * `serve` on the fake platform, one poll at a time: resolves once its first poll is served;
 * `next()` lets the next poll run, `metrics()` scrapes, `stop()` interrupts and waits for the end.
 */
async function serveStepByStep(argv: string[]) {
  const interrupt = new AbortController();
  const context = fakeContext(platform, {}, interrupt.signal);
  let release: (() => void) | undefined;
  let slept: () => void = () => undefined;
  let sleeping = new Promise<void>((resolve) => (slept = resolve));
  context.sleep = (ms) =>
    new Promise<void>((resolve) => {
      release = () => {
        platform.nowValue += ms;
        resolve();
      };
      slept();
    });
  const done = runCli(argv, context, '0.1.0');
  await sleeping;
  const url = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(context.err())![1]!;
  return {
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    next: async () => {
      sleeping = new Promise<void>((resolve) => (slept = resolve));
      release!();
      await sleeping;
    },
    stop: async () => {
      interrupt.abort();
      release!();
      await done;
    },
  };
}

describe('front ends render a poll that read nothing as a failed poll', () => {
  it('serve: tcpdwell_up 0 and an error poll, keeping the last figures', async () => {
    let stdout = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
    platform.commands = [() => ({ stdout, stderr: '', exitCode: 0 })];
    const serve = await serveStepByStep(['serve', '--listen', '127.0.0.1:0', '--interval', '1s']);
    stdout = '';
    await serve.next();
    const body = await serve.metrics();
    expect(body).toContain('tcpdwell_up{source="ss"} 0\n');
    expect(body).toContain('tcpdwell_polls_total{result="error"} 1\n');
    expect(body).toContain('tcpdwell_connections{state="CLOSE_WAIT"} 4\n');
    expect(body).not.toContain('tcpdwell_connections{state="CLOSE_WAIT"} 0\n');
    await serve.stop();
  });

  it('serve: tcpdwell_poll_complete 0 while part of the table (tcp6) is unreadable, 1 once it is read again', async () => {
    const both = readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt');
    const split = both.indexOf('  sl', both.indexOf('  sl') + 1);
    platform.files.set('/proc/net/tcp', both.slice(0, split));
    platform.files.set('/proc/net/tcp6', both.slice(split));
    const serve = await serveStepByStep(['serve', '--source', 'procfs', '--listen', '127.0.0.1:0', '--interval', '1s']);
    expect(await serve.metrics()).toContain('\ntcpdwell_poll_complete 1\n');
    platform.files.set('/proc/net/tcp6', Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    await serve.next();
    const partial = await serve.metrics();
    expect(partial).toContain('tcpdwell_up{source="procfs"} 1\n');
    expect(partial).toContain('\ntcpdwell_poll_complete 0\n');
    platform.files.set('/proc/net/tcp6', both.slice(split));
    await serve.next();
    expect(await serve.metrics()).toContain('\ntcpdwell_poll_complete 1\n');
    await serve.stop();
  });

  it('watch: the failed poll is said once on stderr and closes nothing', async () => {
    const answers = [readFixture('linux-ss-tanoi-stuck-states-kernel6.txt'), '', ''];
    platform.commands = answers.map((stdout) => () => ({ stdout, stderr: '', exitCode: 0 }));
    const context = fakeContext(platform);
    const code = await runCli(['watch', '--events', '--iterations', '3', '--interval', '1s'], context, '0.1.0');
    expect(code).toBe(3);
    expect(context.err()).toBe('tcpdwell: cannot read the socket table (source ss): ss read no socket table (ss printed neither its header nor a socket)\n');
    expect(context.out()).not.toContain('"closed"');
  });

  it('watch and serve say a partial read (a table not read) on stderr, once, as list does', async () => {
    const both = readFixture('linux-proc-net-tcp-tcp6-stuck-states-kernel6.txt');
    platform.files.set('/proc/net/tcp', both.slice(0, both.indexOf('  sl', both.indexOf('  sl') + 1)));
    platform.files.set('/proc/net/tcp6', Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    const said = 'tcpdwell: cannot read /proc/net/tcp6: permission denied\n';
    const watch = fakeContext(platform);
    expect(await runCli(['watch', '--source', 'procfs', '--iterations', '3', '--interval', '1s'], watch, '0.1.0')).toBe(0);
    expect(watch.err()).toBe(said);
    // serve: until the interrupt, polls every second (the fake clock's sleep is instant until aborted).
    const interrupt = new AbortController();
    const serve = fakeContext(platform, {}, interrupt.signal);
    let polls = 0;
    serve.sleep = async (ms) => {
      platform.nowValue += ms;
      if (++polls === 3) interrupt.abort();
    };
    await runCli(['serve', '--source', 'procfs', '--listen', '127.0.0.1:0', '--interval', '1s'], serve, '0.1.0');
    expect(
      serve
        .err()
        .split('\n')
        .filter((line) => line.includes('tcp6')),
    ).toEqual([said.trimEnd()]);
  });

  it('the dashboard: quit when no poll ever read the table exits 3 with one line, never OK', async () => {
    platform.commands = [() => ({ stdout: '', stderr: '', exitCode: 0 })];
    const { input, output, text } = fakeTerminal({ columns: 100, rows: 30 });
    // Real (short) waits between polls: the fake clock's instant sleep would never let the keys in.
    const context = {
      ...fakeContext(platform, { TERM: 'xterm-256color' }),
      sleep: () => new Promise<void>((resolve) => setTimeout(resolve, 10)),
      terminal: { input, output } as unknown as NonNullable<CliContext['terminal']>,
    };
    const run = runCli(['dashboard', '--source', 'ss', '--interval', '1s'], context, '0.1.0');
    for (let i = 0; i < 100 && !text().includes('POLL FAILED'); i++) await new Promise((r) => setTimeout(r, 20));
    input.write('q');
    expect(await run).toBe(3);
    expect(context.err()).toBe('tcpdwell: dashboard: no socket table was read before it ended\n');
  });

  it('the dashboard: a banner saying the poll read nothing, over the last data', async () => {
    let stdout = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
    platform.commands = [() => ({ stdout, stderr: '', exitCode: 0 })];
    const monitor = new Monitor(platform, { source: 'ss', procRoot: '/proc' });
    const { input, output, plain } = fakeTerminal({ columns: 100, rows: 30 }, (written) => {
      if (written.includes('127.0.0.1:43972')) stdout = '';
    });
    const stop = new AbortController();
    const dashboard = runDashboard({ monitor, policy: defaultPolicy('ios'), intervalMs: 20, facts: {} }, { input, output, terminal: 'xterm-256color', noColor: false, interrupt: stop.signal });
    for (let i = 0; i < 100 && !plain().includes('POLL FAILED'); i++) await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    // One poll read the table before the failures: the run read something.
    expect(await dashboard).toBe('ok');
    // The banner, cut to the terminal's width.
    expect(plain()).toMatch(/POLL FAILED: ss read no socket table \(ss printed neither its header nor a socket\) — showing the/);
  });
});

describe('a --proc-root that is not a procfs mount point, with rules on process names', () => {
  it('check fails closed (UNKNOWN, exit 3) instead of "all clear": no owner is known, so no process rule can match', async () => {
    const host = parkSocketsHost();
    const config = join(await mkdtemp(join(tmpdir(), 'tcpdwell-n6-')), 'policy.yaml');
    // Written for the test: a count per process; python3 (pid 4242 here) holds three CLOSE_WAIT sockets.
    await writeFile(config, 'counts:\n  - name: leak\n    state: CLOSE_WAIT\n    per: process\n    warning: 2\n');
    const check = async (extra: string[]) => {
      const context = fakeContext(host);
      const code = await runCli(['check', '--no-state', '--source', 'ss', '--config', config, ...extra], context, '0.1.0');
      return { code, err: context.err() };
    };
    // Under /proc the owners are found and the count flags python3.
    expect((await check([])).code).toBe(1);
    expect(await check(['--proc-root', '/proc/4242'])).toEqual({
      code: 3,
      err: "tcpdwell: the rules match process names, but --proc-root /proc/4242 is one process's directory, not a procfs mount point (for that process's network namespace use --netns 4242): owners are unknown\n",
    });
  });
});

describe('a --proc-root that is not a procfs mount point, with a selection by process (--process, --pid)', () => {
  const NOT_PROC_ROOT = "--proc-root /proc/4242 is one process's directory, not a procfs mount point (for that process's network namespace use --netns 4242)";
  const run = async (argv: string[]) => {
    const context = fakeContext(parkSocketsHost());
    const code = await runCli([...argv, '--source', 'ss'], context, '0.1.0');
    return { code, out: context.out(), err: context.err() };
  };

  it('list and reset end UNKNOWN (exit 3) naming why, never "no session matches" with exit 0', async () => {
    // Under /proc python3 (pid 4242) is found: the selection is not empty there.
    const found = await run(['list', '--process', 'python3']);
    expect(found.code).toBe(0);
    expect(found.out).toContain('4242/python3');
    for (const argv of [
      ['list', '--process', 'python3'],
      ['list', '--json', '--pid', '4242'],
      ['reset', '--process', 'python3'],
      ['reset', '--yes', '--pid', '4242', '--json'],
    ]) {
      const { code, out, err } = await run([...argv, '--proc-root', '/proc/4242']);
      expect({ argv, code, out }).toEqual({ argv, code: 3, out: '' });
      expect(err).toContain(`tcpdwell: the selection matches processes (--process, --pid), but ${NOT_PROC_ROOT}: owners are unknown\n`);
      expect(err).not.toContain('no session matches');
    }
  });

  it('a selection that needs no owner still lists (with the notice)', async () => {
    const { code, out, err } = await run(['list', '--state', 'CLOSE_WAIT', '--proc-root', '/proc/4242']);
    expect(code).toBe(0);
    expect(out).toContain('CLOSE_WAIT');
    expect(err).toContain('owners are unknown (not looked up');
  });
});
