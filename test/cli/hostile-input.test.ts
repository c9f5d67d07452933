import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { FakePlatform, runOn } from '../fake-platform.js';
import { readFixture } from '../fixture.js';
import { HOSTILE_NAMES, forgedLines, rawControls } from '../hostile-text.js';

// Hostile text in captured input (--input) and in the config file, through the whole CLI: every
// text format shows it escaped and on one line, JSON keeps it exact (issue 13, item 2), and a
// webhook URL's secrets never reach stderr or JSON (item 9).

let platform: FakePlatform;
// The config file is read from disk (not through the platform).
const configDir = mkdtempSync(join(tmpdir(), 'tcpdwell-sanitize-'));
afterAll(() => rmSync(configDir, { recursive: true, force: true }));
function configFile(name: string, text: string): string {
  const path = join(configDir, name);
  writeFileSync(path, text);
  return path;
}
beforeEach(() => {
  platform = new FakePlatform();
});

const run = (argv: string[]) => runOn(platform, argv);

// Written for the test, in the shape of the newer `ss` wide output (test/fixtures/linux-ss-tulpen-wide-jc.txt):
// one CLOSE_WAIT per hostile name, owner in `users:(("NAME",pid=…,fd=…))`. A name holding a newline
// cannot be in a captured line (it would split it): the kernel tests cover that one.
const SS_NAMES = HOSTILE_NAMES.filter((h) => !h.name.includes('\n'));
const ssCapture = (at: string, names = SS_NAMES) =>
  [
    `# captured at ${at}`,
    'Netid State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process',
    'tcp   ESTAB      0      0      127.0.0.1:39999     127.0.0.1:5432    users:(("java",pid=77,fd=9)) ino:6999 sk:1 <->',
    ...names.map((h, i) => `tcp   CLOSE-WAIT 1      0      127.0.0.1:${40_000 + i}     127.0.0.1:5432    users:(("${h.name}",pid=${4200 + i},fd=9)) ino:${7000 + i} sk:1 <->`),
  ].join('\n');

describe('ss users:(("…")) with hostile process names, two captures ten minutes apart', () => {
  beforeEach(() => {
    platform.files.set('/c/1.txt', ssCapture('2026-11-20T10:00:00Z'));
    platform.files.set('/c/2.txt', ssCapture('2026-11-20T10:10:00Z'));
  });
  const input = ['--input', '/c/1.txt', '/c/2.txt'];

  it('list --json keeps every exact name', async () => {
    const { out } = await run(['list', '--json', ...input]);
    expect((JSON.parse(out) as { process: string }[]).map((r) => r.process).sort()).toEqual(['java', ...SS_NAMES.map((h) => h.name)].sort());
  });

  it('list: one row per socket, each name escaped, no raw control', async () => {
    const { out } = await run(['list', ...input]);
    expect(out.trimEnd().split('\n')).toHaveLength(2 + SS_NAMES.length);
    SS_NAMES.forEach((h, i) => expect(out).toContain(`${4200 + i}/${h.shown}`));
    expect(rawControls(out)).toEqual([]);
  });

  it('check (text): one line per flagged session, names escaped', async () => {
    const { code, out } = await run(['check', ...input]);
    expect(code).toBe(1);
    const flagged = out.split('\n').filter((l) => l.startsWith('WARNING half-close'));
    expect(flagged).toHaveLength(SS_NAMES.length);
    SS_NAMES.forEach((h, i) => expect(flagged[i]).toContain(`${h.shown}[${4200 + i}]`));
    expect(rawControls(out)).toEqual([]);
    expect(forgedLines(out)).toEqual([]);
  });

  it('check --format nagios: one | only, names escaped with | as \\x7c', async () => {
    const { out } = await run(['check', '--format', 'nagios', ...input]);
    expect(out.split('|')).toHaveLength(2);
    expect(out).toContain('{red-fg}x\\x7cy=1[');
    // The status line, one line per flagged session, and one saying idle was not measured (the captures have no tcp_info).
    expect(out.trimEnd().split('\n')).toHaveLength(1 + SS_NAMES.length + 1);
    expect(out).toMatch(/\nidle not measured for \d+ ESTABLISHED connections?: source input reports no activity counters\n/);
    expect(rawControls(out)).toEqual([]);
  });

  it('check --json keeps the exact names', async () => {
    const { out } = await run(['check', '--json', ...input]);
    expect((JSON.parse(out) as { flagged: { process: string }[] }).flagged.map((f) => f.process)).toEqual(SS_NAMES.map((h) => h.name));
  });

  it('explain ROW: the owner escaped', async () => {
    const { out } = await run(['explain', '2', ...input]);
    expect(out.split('\n')[0]).toContain(`${SS_NAMES[1]!.shown}[4201]`);
    expect(rawControls(out)).toEqual([]);
  });

  it('watch: one line per event, names escaped', async () => {
    // The hostile sessions open between the captures: one `opened` line each.
    platform.files.set('/c/1.txt', ssCapture('2026-11-20T10:00:00Z', []));
    const { out } = await run(['watch', ...input]);
    // The start line (issue 16.15) after the first capture, then the events.
    const [start, ...lines] = out.trimEnd().split('\n');
    expect(start).toBe('2026-11-20T10:00:00.000Z watching 1 connection (0 flagged) through input (captured tables, replayed one after another); warning at half-open 30s, half-close 30s, idle 1h00m');
    expect(lines).toHaveLength(SS_NAMES.length);
    expect(lines.every((l) => l.startsWith('2026-11-20T10:10:00.000Z opened  CLOSE_WAIT'))).toBe(true);
    SS_NAMES.forEach((h, i) => expect(lines[i]).toContain(`${h.shown}[${4200 + i}]`));
    expect(rawControls(out)).toEqual([]);
  });
});

describe('netstat -b owner lines and unknown state words', () => {
  // The real `netstat -anob` capture with one owner line replaced by hostile text written for the test.
  const netstatB = readFixture('win-netstat-aonb-en-US-jc-windows10.txt').replace(' [vmware-hostd.exe]', ' [vm\x1b]0;owned\x07\u009b2J.exe]');

  it('list shows the -b owner escaped; --json keeps it exact', async () => {
    platform.files.set('/c/b.txt', netstatB);
    const text = await run(['list', '--input', '/c/b.txt']);
    expect(text.out).toContain('9396/vm\\x1b]0;owned\\x07\\x9b2J.exe');
    expect(rawControls(text.out)).toEqual([]);
    const json = JSON.parse((await run(['list', '--json', '--input', '/c/b.txt'])).out) as { pid: number; process: string }[];
    expect(json.find((r) => r.pid === 9396)?.process).toBe('vm\x1b]0;owned\x07\u009b2J.exe');
  });

  // Written for the test: an ss line whose state word nobody knows, 100,000 characters with ESC in it.
  const word = `\x1b[2J${'W'.repeat(99_996)}`;
  const unknownState = ['State      Recv-Q Send-Q Local Address:Port  Peer Address:Port', `${word} 0 0 127.0.0.1:40000 127.0.0.1:5432`, 'ESTAB 0 0 127.0.0.1:40001 127.0.0.1:5432'].join('\n');

  it('an unknown state word of 100,000 characters is shown cut, with its length, escaped', async () => {
    platform.files.set('/c/u.txt', unknownState);
    const { out, err } = await run(['list', '--input', '/c/u.txt']);
    expect(err).toContain(`(\\x1b[2J${'W'.repeat(28)}…[100000 chars]), shown as UNKNOWN\n`);
    expect(err.length).toBeLessThan(1000);
    expect(rawControls(err + out)).toEqual([]);
    const check = await run(['check', '--all', '--input', '/c/u.txt']);
    expect(check.out.length).toBeLessThan(2000);
    const json = JSON.parse((await run(['list', '--json', '--input', '/c/u.txt'])).out) as { state: string; rawState: string }[];
    expect(json[0]).toMatchObject({ state: 'UNKNOWN', rawState: word });
  });

  it('a hostile --input file name in an error: one line on stderr, escaped', async () => {
    const { code, err } = await run(['list', '--input', '/c/no\nCRITICAL: such\x1b[2J']);
    expect(code).toBe(66);
    expect(err).toBe('tcpdwell: cannot read /c/no\\nCRITICAL: such\\x1b[2J: no such file\n');
  });
});

describe('hostile config values where they are echoed', () => {
  const capture = (at: string) =>
    [
      `# captured at ${at}`,
      'State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process',
      ...[0, 1, 2].map((i) => `CLOSE-WAIT 1 0 127.0.0.1:${40_000 + i} 127.0.0.1:5432 users:(("java",pid=77,fd=${9 + i}))`),
    ].join('\n');
  beforeEach(() => {
    platform.files.set('/c/1.txt', capture('2026-11-20T10:00:00Z'));
    platform.files.set('/c/2.txt', capture('2026-11-20T10:10:00Z'));
  });

  it("a count rule's name with ESC and a newline: escaped in check and nagios", async () => {
    const config = configFile('t.yaml', 'counts:\n  - { name: "leak\\e]0;t\\a\\nCRITICAL: forged", state: CLOSE_WAIT, per: process, warning: 2 }\n');
    const text = await run(['check', '--all', '--config', config, '--input', '/c/1.txt', '/c/2.txt']);
    expect(text.out).toContain('(rule leak\\x1b]0;t\\x07\\nCRITICAL: forged)');
    expect(forgedLines(text.out)).toEqual([]);
    expect(rawControls(text.out)).toEqual([]);
    const nagios = await run(['check', '--format', 'nagios', '--config', config, '--input', '/c/1.txt', '/c/2.txt']);
    expect(nagios.out).toContain('(rule leak\\x1b]0;t\\x07\\nCRITICAL: forged)');
    expect(rawControls(nagios.out)).toEqual([]);
  });

  it('an exec notifier whose program name holds controls: its failure is one escaped line', async () => {
    const config = configFile('n.yaml', 'notify:\n  - { type: exec, command: ["/bin/no\\e[2Jtify\\nCRITICAL: x"] }\n');
    platform.commands = [() => Object.assign(new Error('spawn ENOENT'), { code: 'ENOENT' })];
    const { code, err } = await run(['check', '--config', config, '--input', '/c/1.txt', '/c/2.txt']);
    expect(code).toBe(75);
    expect(err).toContain(
      'tcpdwell: notifier exec /bin/no\\x1b[2Jtify\\nCRITICAL: x failed: /bin/no\\x1b[2Jtify\\nCRITICAL: x: no such program; 3 notifications not delivered (no state file to keep them in)',
    );
    expect(err.trimEnd().split('\n')).toHaveLength(1);
  });

  it('a webhook URL with user:pass@ and a query token: redacted on stderr and in JSON deliveries[]', async () => {
    // fetch refuses a URL with credentials before any connection, and quotes it whole in its error.
    const config = configFile('w.yaml', 'notify:\n  - { type: webhook, url: "https://alice:pa55w0rd@127.0.0.1:9/hook?token=s3cr3t&x=1", retries: 0 }\n');
    const text = await run(['check', '--config', config, '--input', '/c/1.txt', '/c/2.txt']);
    expect(text.code).toBe(75);
    expect(text.err).toContain('https://***@127.0.0.1:9/hook?token=***&x=***');
    expect(text.err).not.toMatch(/pa55w0rd|s3cr3t|alice/);
    const json = await run(['check', '--json', '--config', config, '--input', '/c/1.txt', '/c/2.txt']);
    const deliveries = (JSON.parse(json.out) as { deliveries: { notifier: string; error: string }[] }).deliveries;
    expect(deliveries).toEqual([{ notifier: 'webhook https://127.0.0.1:9', ok: false, error: expect.stringContaining('https://***@127.0.0.1:9/hook?token=***&x=***') }]);
    expect(json.out).not.toMatch(/pa55w0rd|s3cr3t|alice/);
  });
});
