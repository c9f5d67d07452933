import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { CommandResult } from '../../src/platform/platform.js';
import { parkSocketsHost, runOn, type FakePlatform } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

// list --why, check findings and --reset, explain and reset, through the exec seam with captured
// ss output (the sessions scripts/park-sockets.py parks; python3 is pid 4242 here).
const SS_PARK = readFixture('linux-ss-tanoie-park-sockets-kernel6.txt');
const SS_STUCK = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt');
const SS_HEADER = 'Recv-Q Send-Q Local Address:Port Peer Address:Port Process';

let platform: FakePlatform;
let killed: string[][];
let denyKills: boolean;
let vanishBeforeKill: boolean;
/** The state word ss shows for 127.0.0.1:35170 once an ss -K has named it (its owner closed it just before), or none. */
let movesTo: string | undefined;
let moved: boolean;

beforeEach(() => {
  platform = parkSocketsHost();
  platform.files.set('/proc/sys/net/ipv4/ip_local_port_range', '32768\t60999\n');
  platform.files.set('/proc/sys/net/ipv4/tcp_fin_timeout', '60\n');
  killed = [];
  denyKills = false;
  vanishBeforeKill = false;
  movesTo = undefined;
  moved = false;
  // ss answers from the capture, minus the sockets `ss -K` has ended; ss -K answers like the real one.
  platform.commands = [
    (argv): CommandResult => {
      if (argv.includes('-K')) {
        // The socket has left the state the filter names: ss -K matches nothing, and it stays.
        if (movesTo && argv[argv.indexOf('src') + 1] === '127.0.0.1:35170') moved = true;
        if (moved && argv[argv.indexOf('src') + 1] === '127.0.0.1:35170') return { stdout: `${SS_HEADER}\n`, stderr: '', exitCode: 0 };
        if (denyKills) return { stdout: `${SS_HEADER}\n`, stderr: 'SOCK_DESTROY answers: Operation not permitted\n', exitCode: 0 };
        killed.push([...argv]); // either way it is gone from the next poll
        if (vanishBeforeKill) return { stdout: `${SS_HEADER}\n`, stderr: '', exitCode: 0 };
        return { stdout: `${SS_HEADER}\n1 0 ${argv[argv.indexOf('src') + 1]} ${argv[argv.indexOf('dst') + 1]}\n`, stderr: '', exitCode: 0 };
      }
      const gone = killed.map((k) => k[k.indexOf('src') + 1]!.replace(/^\[::ffff:(.*)\]/, '$1'));
      const lines = SS_PARK.split('\n');
      const kept = lines.filter((line, i) => !gone.some((g) => line.includes(` ${g} `)) && !(line.startsWith('\t') && gone.some((g) => lines[i - 1]?.includes(` ${g} `))));
      const table = !moved ? kept : kept.map((line) => (line.includes(' 127.0.0.1:35170 ') && line.startsWith('CLOSE-WAIT') ? line.replace('CLOSE-WAIT', movesTo!.padEnd(10)) : line));
      return { stdout: table.join('\n'), stderr: '', exitCode: 0 };
    },
  ];
});

const run = async (argv: string[]) => runOn(platform, argv, { HOME: await mkdtemp(join(tmpdir(), 'tcpdwell-t-')) });

describe('list --why', () => {
  it('adds the finding under each flagged row and the group findings after the table', async () => {
    platform.commands.unshift(() => ({ stdout: SS_STUCK, stderr: '', exitCode: 0 }));
    const { out } = await run(['list', '--why', '--half-open', '10s', '--state', 'SYN_SENT']);
    expect(out.split('\n').slice(1, 3)).toEqual([expect.stringMatching(/^SYN_SENT .* half-open!$/), '    why: the listener 127.0.0.1:44865 has a full accept queue and drops SYNs']);
  });

  it('names the leaking process and its CLOSE_WAIT count', async () => {
    const { out } = await run(['list', '--why', '--half-close', '3s', '--state', 'CLOSE_WAIT']);
    expect(out).toContain('    why: the local process has not closed the socket after the peer did');
    expect(out).toContain('Findings:\n  python3[4242] holds 3 CLOSE_WAIT sockets: a socket leak (it does not close connections its peers closed)');
  });

  it('puts the finding into each JSON row', async () => {
    const { out } = await run(['list', '--why', '--json', '--half-close', '3s', '--state', 'CLOSE_WAIT']);
    const rows = JSON.parse(out);
    expect(rows[0].finding).toMatchObject({ code: 'socket-leak', evidence: expect.arrayContaining([expect.stringMatching(/^python3\[4242\] holds 3 CLOSE_WAIT sockets/)]) });
  });
});

describe('check with findings', () => {
  it('adds the one-line finding to each flagged line and the group findings', async () => {
    const { code, out } = await run(['check', '--no-state', '--half-close', '3s', '--half-open', '1h', '--idle', '1h']);
    expect(code).toBe(1);
    const lines = out.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('WARNING half-close: CLOSE_WAIT')).every((l) => l.endsWith(': the local process has not closed the socket after the peer did'))).toBe(true);
    expect(lines).toContain('FINDING python3[4242]: python3[4242] holds 3 CLOSE_WAIT sockets: a socket leak (it does not close connections its peers closed)');
  });

  it('reports findings in JSON: per flagged session and per group', async () => {
    const { out } = await run(['check', '--json', '--no-state', '--half-close', '3s']);
    const report = JSON.parse(out);
    expect(report.findings).toEqual([expect.objectContaining({ code: 'socket-leak', subject: 'python3[4242]' })]);
    expect(report.flagged.every((f: { finding: unknown }) => f.finding !== null)).toBe(true);
    expect(report.resets).toEqual([]);
  });

  it('--reset half-close ends the flagged half-close sessions and says so', async () => {
    const { out } = await run(['check', '--no-state', '--half-close', '3s', '--half-open', '1h', '--idle', '1h', '--reset', 'half-close']);
    expect(killed).toHaveLength(6);
    expect(killed).toContainEqual(['ss', '-K', '-t', '-n', '-6', 'state', 'fin-wait-2', 'src', '[::ffff:127.0.0.1]:45219', 'dst', '[::ffff:127.0.0.1]:56580']);
    expect(killed).toContainEqual(['ss', '-K', '-t', '-n', '-4', 'state', 'close-wait', 'src', '127.0.0.1:35170', 'dst', '127.0.0.1:47537']);
    expect(out).toContain('RESET half-close: CLOSE_WAIT 127.0.0.1:35170 -> 127.0.0.1:47537: ended via ss -K\n');
  });
});

describe('explain', () => {
  it('explains a state: meaning, exits, what to check here and on the peer', async () => {
    const { code, out } = await run(['explain', 'syn-sent']);
    expect(code).toBe(0);
    expect(out).toContain('SYN_SENT: active open: our SYN sent, waiting for the SYN/ACK');
    expect(out).toContain('  receive SYN/ACK: send ACK -> ESTABLISHED');
    expect(out).toContain('Check on the peer: SYN_RECEIVED for this flow on the peer means the returning SYN/ACK is blocked');
    expect(platform.ran).toEqual([]);
  });

  it('lists every state without a target', async () => {
    const { out } = await run(['explain']);
    expect(out.trimEnd().split('\n')).toHaveLength(14);
  });

  it('tells a connection’s story: dwell, rule and threshold, finding, history', async () => {
    const { code, out } = await run(['explain', '127.0.0.1:35170-127.0.0.1:47537', '--half-close', '3s']);
    expect(code).toBe(0);
    expect(out).toContain('CLOSE_WAIT 127.0.0.1:35170 -> 127.0.0.1:47537  (tcp, inode 6731, python3[4242])');
    expect(out).toContain('Threshold: half-close warning above 3s (rule default)');
    expect(out).toContain('Finding: the local process has not closed the socket after the peer did');
    expect(out).toContain('  - python3[4242] holds 3 CLOSE_WAIT sockets');
    expect(out).toMatch(/History:\n {2}\d{4}-.*Z {2}CLOSE_WAIT/);
    // On loopback the reversed pair is the peer's own socket: an exact match wins over a swapped one.
    expect((await run(['explain', '127.0.0.1:47537-127.0.0.1:35170'])).out).toMatch(/^FIN_WAIT_2 127\.0\.0\.1:47537 -> 127\.0\.0\.1:35170 /);
    // With only one end in the table (a remote peer), either order names it.
    platform.commands.unshift(() => ({ stdout: 'ESTAB 0 0 10.0.0.1:5432 10.0.0.5:40100 ino:9\n', stderr: '', exitCode: 0 }));
    expect((await run(['explain', '10.0.0.5:40100-10.0.0.1:5432'])).out).toMatch(/^ESTABLISHED 10\.0\.0\.1:5432 -> 10\.0\.0\.5:40100 /);
  });

  it('takes a row number of list, and says when there is no such connection', async () => {
    const first = (await run(['list'])).out.split('\n')[1]!.split(/\s+/);
    expect((await run(['explain', '1'])).out.split('\n')[0]).toContain(`${first[0]} ${first[1]} -> ${first[2]}`);
    const missing = await run(['explain', '10.9.9.9:1-10.9.9.9:2']);
    expect(missing).toMatchObject({ code: 1, out: '', err: 'tcpdwell: no connection 10.9.9.9:1-10.9.9.9:2 in the socket table now\n' });
  });
});

describe('reset', () => {
  it('is a dry run by default: it lists what it would end and ends nothing', async () => {
    const { code, out } = await run(['reset', '--state', 'CLOSE_WAIT']);
    expect(code).toBe(0);
    expect(killed).toEqual([]);
    expect(out).toContain('would end CLOSE_WAIT 127.0.0.1:35170 -> 127.0.0.1:47537 python3[4242]');
    expect(out.trimEnd().split('\n').at(-1)).toBe('dry run: 3 sessions would be ended; add --yes to end them');
  });

  it('with --yes ends exactly the selected session and checks it is gone', async () => {
    const { code, out } = await run(['reset', '--yes', '--local', '127.0.0.1:35170', '--remote', '127.0.0.1:47537']);
    expect(code).toBe(0);
    expect(killed).toEqual([['ss', '-K', '-t', '-n', '-4', 'state', 'close-wait', 'src', '127.0.0.1:35170', 'dst', '127.0.0.1:47537']]);
    expect(out).toBe('ended     CLOSE_WAIT 127.0.0.1:35170 -> 127.0.0.1:47537 python3[4242] via ss -K\n');
  });

  it('never resets LISTEN or TIME_WAIT', async () => {
    const { out } = await run(['reset', '--yes', '--port', '47537']);
    // A listener's peer as list prints it (was `0.0.0.0:0`, unlike list's `0.0.0.0:*`: session 8's pass).
    expect(out).toContain('skip      LISTEN 127.0.0.1:47537 -> 0.0.0.0:* python3[4242]: a listening socket is never reset');
    expect(killed.every((k) => !k.includes('listen'))).toBe(true);
  });

  it('--yes that selects sessions and ends none of them (all never reset) exits 1, not 0; never-reset ones beside sessions ended keep 0', async () => {
    // Break-it pass (session 11): "asked to end 7, ended none" exited 0.
    const listeners = await run(['reset', '--yes', '--state', 'LISTEN']);
    expect(listeners.code).toBe(1);
    expect(listeners.out.trimEnd().split('\n').at(-1)).toMatch(/^reset: \d+ sessions selected: 0 ended, \d+ left alone, 0 failed$/);
    expect(killed).toEqual([]);
    // A dry run ends nothing by design: 0.
    expect((await run(['reset', '--state', 'LISTEN'])).code).toBe(0);
    // The listener and the sessions to it, every one of those ended: 0, as before.
    const mixed = await run(['reset', '--yes', '--port', '47537']);
    expect(mixed.out).toContain('skip      LISTEN');
    expect(mixed.code).toBe(0);
  });

  it('reports permission errors clearly, with exit 1', async () => {
    denyKills = true;
    const { code, out } = await run(['reset', '--yes', '--state', 'FIN_WAIT_2', '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(out);
    expect(report.results).toHaveLength(3);
    expect(report.results[0]).toMatchObject({ ended: false, via: 'ss -K', reason: 'permission denied: ending sockets needs root (CAP_NET_ADMIN)' });
  });

  it('counts a socket that vanished before its turn as ended', async () => {
    vanishBeforeKill = true;
    const { code, out } = await run(['reset', '--yes', '--local', '127.0.0.1:35170']);
    expect(code).toBe(0);
    expect(out).toBe('ended     CLOSE_WAIT 127.0.0.1:35170 -> 127.0.0.1:47537 python3[4242] via ss -K (was gone already)\n');
  });

  it('ends many sessions with one summary line: ended, left alone, failed (none for one session)', async () => {
    // The 7 listeners (skipped) and the 3 CLOSE_WAIT sessions, one of which its owner closes first (left alone).
    movesTo = 'LAST-ACK';
    const { code, out } = await run(['reset', '--yes', '--state', 'CLOSE_WAIT,LISTEN']);
    expect(code).toBe(1);
    expect(out.trimEnd().split('\n').at(-1)).toBe('reset: 10 sessions selected: 2 ended, 8 left alone, 0 failed');
    denyKills = true;
    movesTo = undefined;
    moved = false;
    killed = [];
    const denied = await run(['reset', '--yes', '--state', 'FIN_WAIT_2']);
    expect(denied.out.trimEnd().split('\n').at(-1)).toBe('reset: 3 sessions selected: 0 ended, 0 left alone, 3 failed');
    const json = JSON.parse((await run(['reset', '--yes', '--state', 'FIN_WAIT_2', '--json'])).out);
    expect(json.summary).toEqual({ ended: 0, leftAlone: 0, failed: 3 });
    // A dry run has no summary (its last line says what would be done).
    expect(JSON.parse((await run(['reset', '--state', 'FIN_WAIT_2', '--json'])).out).summary).toBeUndefined();
  });

  it('ss -K of a session whose state moved on since the poll: left alone, with the state seen now (stateNow), as the SOCK_DESTROY path says', async () => {
    movesTo = 'LAST-ACK';
    const { code, out } = await run(['reset', '--yes', '--local', '127.0.0.1:35170', '--json']);
    expect(code).toBe(1);
    expect(JSON.parse(out).results).toEqual([
      expect.objectContaining({ state: 'CLOSE_WAIT', ended: false, via: 'ss -K', stateNow: 'LAST_ACK', reason: 'its state moved on since the poll (CLOSE_WAIT then, LAST_ACK now): left alone' }),
    ]);
    moved = false;
    const text = await run(['reset', '--yes', '--local', '127.0.0.1:35170']);
    expect(text.out).toBe('not ended CLOSE_WAIT 127.0.0.1:35170 -> 127.0.0.1:47537 python3[4242]: its state moved on since the poll (CLOSE_WAIT then, LAST_ACK now): left alone\n');
  });

  it('a socket still there in the state seen after ss -K said it ended one: still present, no stateNow', async () => {
    // Written for the test: ss -K claims a socket but the table still lists it unchanged.
    platform.commands = [(argv) => (argv.includes('-K') ? { stdout: `${SS_HEADER}\n1 0 127.0.0.1:35170 127.0.0.1:47537\n`, stderr: '', exitCode: 0 } : { stdout: SS_PARK, stderr: '', exitCode: 0 })];
    const { code, out } = await run(['reset', '--yes', '--local', '127.0.0.1:35170', '--json']);
    expect(code).toBe(1);
    const [result] = JSON.parse(out).results;
    expect(result).toMatchObject({ ended: false, via: 'ss -K', reason: 'still present after the reset' });
    expect(result.stateNow).toBeUndefined();
  });

  it('a selection that takes every session (--port 0-65535) ends nothing without --all or --count N', async () => {
    const refused = await run(['reset', '--yes', '--port', '0-65535']);
    expect(refused).toMatchObject({ code: 64, out: '' });
    expect(refused.err).toBe('tcpdwell: reset: the selection matches 15 sessions (more than 10); nothing was ended. Narrow it, or confirm with --count 15 (or --all)\n');
    expect(killed).toEqual([]);
    // The dry run says so before anyone adds --yes.
    expect((await run(['reset', '--port', '0-65535'])).out.trimEnd().split('\n').at(-1)).toBe('the selection matches 15 sessions (more than 10): --yes also needs --count 15 (or --all)');
    // A count that is not the number selected now also ends nothing.
    expect((await run(['reset', '--yes', '--port', '0-65535', '--count', '14'])).err).toBe('tcpdwell: reset --count 14: the selection matches 15 sessions now; nothing was ended\n');
    expect(killed).toEqual([]);
    const confirmed = await run(['reset', '--yes', '--port', '0-65535', '--count', '15']);
    // Confirmed: every one is tried (one FIN_WAIT_2 stays in this fake's table, hence exit 1, not 64).
    expect(confirmed).toMatchObject({ code: 1, err: '' });
    expect(killed).toHaveLength(15);
  });

  it('--all confirms a broad selection; every endable session of a small table, ESTABLISHED among them, needs it too', async () => {
    expect(await run(['reset', '--yes', '--all', '--state', 'ESTABLISHED,CLOSE_WAIT,FIN_WAIT_2,SYN_SENT,SYN_RECEIVED'])).toMatchObject({ code: 1, err: '' });
    expect(killed).toHaveLength(15);
    // Written for the test (ss -tanoie shape): two sessions only, one of them the operator's ssh.
    killed = [];
    platform.commands.unshift(() => ({
      stdout: `State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\nESTAB 0 0 10.0.0.1:22 10.0.0.9:50000 ino:11\nCLOSE-WAIT 1 0 10.0.0.1:8080 10.0.0.7:40000 ino:12\n`,
      stderr: '',
      exitCode: 0,
    }));
    const every = await run(['reset', '--yes', '--remote', ':50000', '--local', '10.0.0.1']);
    expect(every.code).toBe(0); // one named session: no confirmation needed
    platform.commands.unshift(() => ({
      stdout: `State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\nESTAB 0 0 10.0.0.1:22 10.0.0.9:50000 ino:11\nCLOSE-WAIT 1 0 10.0.0.1:8080 10.0.0.7:40000 ino:12\n`,
      stderr: '',
      exitCode: 0,
    }));
    const both = await run(['reset', '--yes', '--local', '10.0.0.1']);
    expect(both).toMatchObject({
      code: 64,
      err: 'tcpdwell: reset: the selection matches every session that can be ended (2, 1 of them ESTABLISHED and not flagged); nothing was ended. Narrow it, or confirm with --count 2 (or --all)\n',
    });
  });

  it('refuses to run without a selection', async () => {
    const { code, err } = await run(['reset', '--yes']);
    expect(code).toBe(64);
    expect(err).toBe('tcpdwell: reset needs a selection: --state, --port, --pid, --process, --local, --remote, --flagged or --kind\n');
  });
});
