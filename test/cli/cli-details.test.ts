import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parkSocketsHost, runOn, ssAnswers, type FakePlatform } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// Issue 16's CLI details through the whole CLI on the fake platform: `off` thresholds, list
// --numbered and explain N, --why findings for the rows shown, counts in agreement.
// The table: the sessions scripts/park-sockets.py parks (real `ss -tanoie`; python3 is pid 4242
// and holds the three CLOSE_WAIT sockets and the listener on 47537). Many rows share a dwell (≥5s).
const SS_PARK = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');

let platform: FakePlatform;
let home: string;

beforeEach(async () => {
  platform = parkSocketsHost();
  platform.files.set('/proc/sys/net/ipv4/ip_local_port_range', '32768\t60999\n');
  home = await mkdtemp(join(tmpdir(), 'tcpdwell-g-'));
});

const run = (argv: string[]) => runOn(platform, argv, { HOME: home });

/** The capture's rows (each with its indented tcp_info line) in another order: the same table. */
function reordered(text: string): string {
  const lines = text.split('\n');
  const head = lines.slice(0, 2);
  const blocks: string[][] = [];
  for (const line of lines.slice(2)) {
    if (line.startsWith('\t') && blocks.length) blocks[blocks.length - 1]!.push(line);
    else if (line.trim()) blocks.push([line]);
  }
  // Reversed, then odd blocks before even ones: no row keeps its neighbours.
  const reversed = blocks.reverse();
  return [...head, ...[...reversed.filter((_, i) => i % 2), ...reversed.filter((_, i) => i % 2 === 0)].flat(), ''].join('\n');
}

describe('thresholds "off" on the command line (16.10)', () => {
  it('--idle off: no idle flag where --idle 3s flags every idle ESTABLISHED', async () => {
    const on = await run(['check', '--no-state', '--all', '--half-open', 'off', '--half-close', 'off', '--idle', '3s']);
    expect(on.code).toBe(1);
    expect(on.out).toMatch(/^WARNING idle: ESTABLISHED /m);
    const off = await run(['check', '--no-state', '--all', '--half-open', 'off', '--half-close', 'off', '--idle', 'off']);
    expect(off).toMatchObject({ code: 0, err: '' });
    // Changed on purpose (N7): --all prints the status line even with nothing flagged.
    expect(off.out).toBe('tcpdwell OK - nothing flagged of 22 connections (source ss)\n');
  });

  it('a threshold turned off on the command line overrides the config file, like the config\'s own "off"', async () => {
    const config = join(home, 'tcpdwell.yml');
    await writeFile(config, 'thresholds: { half-close: 3s, half-open: off, idle: off }\ncritical: { half-close: 4s }\n');
    const fromConfig = await run(['check', '--no-state', '--config', config, '--format', 'json']);
    expect(fromConfig.code).toBe(2);
    const report = JSON.parse(fromConfig.out);
    expect(report.status).toBe('critical');

    const criticalOff = await run(['check', '--no-state', '--config', config, '--critical-half-close', 'off', '--format', 'nagios']);
    expect(criticalOff.code).toBe(1);
    expect(criticalOff.out).toMatch(/^TCPDWELL WARNING - 6 half-close of 22 connections \|/);
    // Off for warning leaves critical in force, as in the config file: both off, nothing is flagged.
    const warningOff = await run(['check', '--no-state', '--config', config, '--half-close', 'off', '--format', 'nagios']);
    expect(warningOff.out).toMatch(/^TCPDWELL CRITICAL - 6 half-close of 22 connections \|/);
    const allOff = await run(['check', '--no-state', '--config', config, '--half-close', 'off', '--critical-half-close', 'off', '--format', 'nagios']);
    expect(allOff.code).toBe(0);
    expect(allOff.out).toMatch(/^TCPDWELL OK - nothing flagged of 22 connections \|/);
  });
});

describe('list --numbered and explain N (16.12)', () => {
  type Row = { row: number; state: string; local: { address: string; port: number }; remote: { address: string; port: number } };
  const endpoints = (r: Pick<Row, 'local' | 'remote'>) => `${r.local.address}:${r.local.port}-${r.remote.address}:${r.remote.port}`;

  it('explain N is the row list --numbered shows as N, for every row, ties in dwell included', async () => {
    const listed = await run(['list', '--numbered', '--json', '--half-close', '3s']);
    const rows = JSON.parse(listed.out) as Row[];
    expect(rows.map((r) => r.row)).toEqual(rows.map((_, i) => i + 1));
    // Ties: several rows share the longest dwell; the order among them must still be fixed.
    expect(new Set(rows.map((r) => endpoints(r))).size).toBe(rows.length);
    for (const row of rows) {
      const explained = await run(['explain', String(row.row), '--json', '--half-close', '3s']);
      expect(explained.code, `row ${row.row}`).toBe(0);
      expect(endpoints(JSON.parse(explained.out).connection), `row ${row.row}`).toBe(endpoints(row));
    }
  });

  it('the order is total: the same table read in another row order numbers every row alike', async () => {
    const first = JSON.parse((await run(['list', '--numbered', '--json'])).out) as Row[];
    platform.commands = [ssAnswers(reordered(SS_PARK))];
    const second = JSON.parse((await run(['list', '--numbered', '--json'])).out) as Row[];
    expect(second.map((r) => `${r.row} ${endpoints(r)}`)).toEqual(first.map((r) => `${r.row} ${endpoints(r)}`));
  });

  it('a filtered listing keeps each row its number in the whole table, and the text table shows it first', async () => {
    const all = JSON.parse((await run(['list', '--numbered', '--json', '--half-close', '3s'])).out) as Row[];
    const { out } = await run(['list', '--numbered', '--state', 'LISTEN', '--half-close', '3s']);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^# +STATE +LOCAL/);
    const shown = lines.slice(1).map((line) => Number(line.split(/\s+/)[0]));
    const expected = all.filter((r) => r.state === 'LISTEN').map((r) => r.row);
    expect(shown).toEqual(expected);
    expect(expected[0]).toBeGreaterThan(1); // flagged rows come first in the whole table
    // The number in the text is the same one explain takes.
    const explained = await run(['explain', String(expected[0]), '--json', '--half-close', '3s']);
    expect(JSON.parse(explained.out).connection.state).toBe('LISTEN');
  });

  it('a row past the end: one line saying how many rows there are, exit 1', async () => {
    expect(await run(['explain', '99'])).toEqual({ code: 1, out: '', err: 'tcpdwell: no row 99: the socket table has 22 rows now (`tcpdwell list --numbered` numbers them)\n' });
    platform.commands = [ssAnswers(SS_PARK.split('\n').slice(0, 4).join('\n'))];
    expect((await run(['explain', '2'])).err).toBe('tcpdwell: no row 2: the socket table has 1 row now (`tcpdwell list --numbered` numbers them)\n');
  });

  it('row 0: a usage error (64) before anything is read', async () => {
    expect(await run(['explain', '0'])).toEqual({ code: 64, out: '', err: 'tcpdwell: cannot explain row 0: rows are numbered from 1 (see `tcpdwell list --numbered`)\n' });
    expect(platform.ran).toEqual([]);
  });
});

describe('list --why: findings only for the rows shown (16.17)', () => {
  const LEAK = 'python3[4242] holds 3 CLOSE_WAIT sockets: a socket leak';

  it.each([
    [['--kind', 'half-open']],
    [['--state', 'FIN_WAIT_2,SYN_SENT']],
    [['--port', '60653']],
    [['--process', 'nothing-here']],
    [['--flagged', '--state', 'SYN_SENT']],
    [['--local', '127.0.0.1:37143']],
  ])('%j shows no CLOSE_WAIT finding (no CLOSE_WAIT row is shown)', async (filter) => {
    const { code, out } = await run(['list', '--why', '--half-open', '1s', '--half-close', '3s', ...filter]);
    expect(code).toBe(0);
    expect(out).not.toContain('CLOSE_WAIT ');
    expect(out).not.toContain('Findings:');
  });

  it.each([
    [['--state', 'CLOSE_WAIT']],
    [['--kind', 'half-close']],
    [['--port', '45219']], // one CLOSE_WAIT (56580 -> 45219) among the rows shown
    [['--process', 'python3']],
    [['--pid', '4242']],
    [['--flagged']],
    [[]],
  ])('%j shows the leak, counted over the whole table', async (filter) => {
    const { out } = await run(['list', '--why', '--half-open', '1s', '--half-close', '3s', ...filter]);
    expect(out).toContain(`Findings:\n  ${LEAK}`);
  });
});

describe('counts in agreement with their nouns (16.18)', () => {
  const oneRow = () => SS_PARK.split('\n').slice(0, 4).join('\n');

  it('check text and Nagios say "1 connection", and "0 connections"/"22 connections" otherwise', async () => {
    platform.commands = [ssAnswers(oneRow())];
    // Changed on purpose (N7): --all prints the status line even with nothing flagged.
    expect((await run(['check', '--no-state', '--all', '--half-open', '0s'])).out).toBe('tcpdwell OK - nothing flagged of 1 connection (source ss)\n');
    const nagios = await run(['check', '--no-state', '--format', 'nagios']);
    expect(nagios.out).toMatch(/^TCPDWELL OK - nothing flagged of 1 connection \|/);
    platform.commands = [ssAnswers(SS_PARK.split('\n').slice(0, 2).join('\n'))];
    expect((await run(['check', '--no-state', '--format', 'nagios'])).out).toMatch(/^TCPDWELL OK - nothing flagged of 0 connections \|/);
  });

  it('the check summary line counts one connection in the singular', async () => {
    // The header and one CLOSE_WAIT row (with its tcp_info line) of the capture.
    const lines = SS_PARK.split('\n');
    platform.commands = [ssAnswers([...lines.slice(0, 2), ...lines.slice(22, 24)].join('\n'))];
    const { code, out } = await run(['check', '--no-state', '--all', '--half-close', '3s']);
    expect(code).toBe(1);
    expect(out.trimEnd().split('\n').pop()).toBe('tcpdwell WARNING - 1 half-close of 1 connection (source ss)');
  });
});
