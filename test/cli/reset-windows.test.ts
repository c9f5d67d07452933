import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { TcpState } from '../../src/core/tcp-state.js';
import { CREATED_TOLERANCE_MS, END_CONNECTION_SCRIPT, killWindowsSocket, windowsKillEnv, windowsRefusalReason } from '../../src/sources/windows/socket-killer-windows.js';
import { FakePlatform, fakeContext } from '../fake-platform.js';

// reset on a simulated Windows host: netstat through the exec seam, SetTcpEntry through PowerShell.

const CLOSE_WAIT_V4 = '  TCP    10.1.2.3:50110         10.50.0.9:8080         CLOSE_WAIT      7744';
const CLOSE_WAIT_V6 = '  TCP    [fe80::1%7]:50111      [fe80::2%7]:8080       CLOSE_WAIT      7744';
const LISTENER = '  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1044';

/** What holds the CLOSE_WAIT's 4-tuple when the script looks (Get-NetTCPConnection), by MIB state number; none: it is gone. */
interface Holder {
  state: number;
  pid: number;
  createdUnixMs: number;
}

const SEEN: Holder = { state: 8, pid: 7744, createdUnixMs: 1_700_000_000_000 };

/**
 * A Windows host: netstat through the exec seam, and the reset script's answer as the script
 * prints it (END_CONNECTION_SCRIPT: `Found=`, then the holder's state, owner and creation time, then
 * `SetTcpEntry=` only when the holder is the one seen). PowerShell cannot run here, so the fake
 * answers what the script's checks decide for `holders`, from the environment it is given.
 */
function windowsHost(setTcpEntryAnswer: string, holders: Holder[] = [SEEN], stderr = '') {
  const platform = new FakePlatform();
  platform.os = 'win32';
  let ended = false;
  platform.commands = [
    (argv) => {
      if (argv[0] === 'cmd') return { stdout: 'Active code page: 437\r\n', stderr: '', exitCode: 0 };
      if (argv[0] === 'tasklist') return { stdout: '"leaky.exe","7744","Console","1","9 K"\r\n', stderr: '', exitCode: 0 };
      if (argv[0] === 'netstat') return { stdout: [LISTENER, ...(ended ? [] : [CLOSE_WAIT_V4]), CLOSE_WAIT_V6, ''].join('\r\n'), stderr: '', exitCode: 0 };
      if (argv[0] === 'powershell.exe' && argv.includes('-EncodedCommand')) {
        if (stderr) return { stdout: '', stderr, exitCode: 1 };
        const env = platform.ranEnv.at(-1)!;
        const lines = [`Found=${holders.length}`];
        if (holders.length === 0) ended = true; // gone before the script looked: the next netstat does not list it
        const [holder] = holders;
        if (holders.length === 1 && holder) {
          lines.push(`StateNow=${holder.state}`, `OwningProcess=${holder.pid}`, `CreatedUnixMs=${holder.createdUnixMs}`);
          const same =
            String(holder.state) === env.TCPDWELL_STATE &&
            (env.TCPDWELL_PID === undefined || Number(env.TCPDWELL_PID) === holder.pid) &&
            (env.TCPDWELL_CREATED_UNIX_MS === undefined || Math.abs(holder.createdUnixMs - Number(env.TCPDWELL_CREATED_UNIX_MS)) <= Number(env.TCPDWELL_CREATED_TOLERANCE_MS));
          if (same) {
            lines.push(setTcpEntryAnswer);
            ended = setTcpEntryAnswer === 'SetTcpEntry=0';
          }
        }
        return { stdout: `${lines.join('\r\n')}\r\n`, stderr: '', exitCode: 0 };
      }
      return Object.assign(new Error(`spawn ${argv[0]} ENOENT`), { code: 'ENOENT' });
    },
  ];
  return platform;
}

async function run(platform: FakePlatform, argv: string[]) {
  const context = fakeContext(platform);
  const code = await runCli(argv, context, '0.1.0');
  return { code, out: context.out(), err: context.err() };
}

describe('reset on Windows (SetTcpEntry, DELETE_TCB)', () => {
  it('ends the IPv4 CLOSE_WAIT through a fixed script, passing the connection in the environment; refuses IPv6; verifies by re-polling', async () => {
    const platform = windowsHost('SetTcpEntry=0');
    const { code, out } = await run(platform, ['reset', '--state', 'CLOSE_WAIT', '--yes']);
    expect(out).toBe(
      [
        'skip      CLOSE_WAIT [fe80::1]:50111 -> [fe80::2]:8080 leaky.exe[7744]: Windows can end IPv4 connections only (SetTcpEntry has no IPv6 form)',
        'ended     CLOSE_WAIT 10.1.2.3:50110 -> 10.50.0.9:8080 leaky.exe[7744]',
        // Behaviour added (n6): two sessions selected, so the counts follow.
        'reset: 2 sessions selected: 1 ended, 1 left alone, 0 failed',
        '',
      ].join('\n'),
    );
    expect(code).toBe(0);
    const killIndex = platform.ran.findIndex((argv) => argv[0] === 'powershell.exe');
    const argv = platform.ran[killIndex]!;
    expect(argv.slice(0, 5)).toEqual(['powershell.exe', '-NoLogo', '-NoProfile', '-NonInteractive', '-EncodedCommand']);
    // The script is the fixed text: no address or port of the table is in it.
    const script = Buffer.from(argv[5]!, 'base64').toString('utf16le');
    expect(script).toBe(END_CONNECTION_SCRIPT);
    expect(script).not.toMatch(/10\.1\.2\.3|50110/);
    expect(script).toContain('$row.dwState = 12');
    // The state seen (MIB 8, CLOSE_WAIT) and the owner netstat -o gave: the script ends only that connection.
    expect(platform.ranEnv[killIndex]).toEqual({
      TCPDWELL_LOCAL_ADDRESS: '10.1.2.3',
      TCPDWELL_LOCAL_PORT: '50110',
      TCPDWELL_REMOTE_ADDRESS: '10.50.0.9',
      TCPDWELL_REMOTE_PORT: '8080',
      TCPDWELL_STATE: '8',
      TCPDWELL_PID: '7744',
    });
    // The lookup comes before the call, in the same script.
    expect(script.indexOf('Get-NetTCPConnection -LocalAddress')).toBeGreaterThan(0);
    expect(script.indexOf('Get-NetTCPConnection -LocalAddress')).toBeLessThan(script.indexOf('SetTcpEntry([ref]$row)'));
    expect(platform.ran.filter((a) => a[0] === 'netstat')).toHaveLength(2);
  });

  it('not elevated: SetTcpEntry 317 is reported per connection, exit 1; a dry run never runs PowerShell', async () => {
    const refused = windowsHost('SetTcpEntry=317');
    const { code, out } = await run(refused, ['reset', '--state', 'CLOSE_WAIT', '--yes', '--json']);
    expect(code).toBe(1);
    expect(JSON.parse(out).results).toEqual([expect.objectContaining({ state: 'CLOSE_WAIT', ended: false, reason: 'permission denied: not running elevated (SetTcpEntry returned 317)' })]);

    const dry = windowsHost('SetTcpEntry=0');
    const dryRun = await run(dry, ['reset', '--state', 'CLOSE_WAIT']);
    expect(dryRun.out).toContain('would end CLOSE_WAIT 10.1.2.3:50110 -> 10.50.0.9:8080');
    expect(dry.ran.some((a) => a[0] === 'powershell.exe' && a.includes('-EncodedCommand'))).toBe(false);
  });

  it('never ends a connection that moved on since the poll: CLOSE_WAIT then, ESTABLISHED now is left alone with stateNow', async () => {
    const platform = windowsHost('SetTcpEntry=0', [{ ...SEEN, state: 5 }]);
    const { code, out } = await run(platform, ['reset', '--state', 'CLOSE_WAIT', '--yes', '--json']);
    const [result] = JSON.parse(out).results.filter((r: { local: { address: string } }) => r.local.address === '10.1.2.3');
    expect(result).toMatchObject({ ended: false, stateNow: 'ESTABLISHED', reason: 'its state moved on since the poll (CLOSE_WAIT then, ESTABLISHED now): left alone' });
    expect(JSON.parse(out).summary).toMatchObject({ ended: 0, leftAlone: 2, failed: 0 });
    // As on Linux: a selected session that was not ended is exit 1.
    expect(code).toBe(1);
  });

  it('never ends a newer connection on the same 4-tuple: another owner is left alone as a reused 4-tuple', async () => {
    const platform = windowsHost('SetTcpEntry=0', [{ ...SEEN, pid: 9120 }]);
    const { out } = await run(platform, ['reset', '--state', 'CLOSE_WAIT', '--yes', '--json']);
    const [result] = JSON.parse(out).results.filter((r: { local: { address: string } }) => r.local.address === '10.1.2.3');
    expect(result.ended).toBe(false);
    expect(result.reason).toMatch(/^the connection seen \(pid 7744\) is gone and a newer one \(pid 9120, created 2023-11-14T22:13:20\.000Z, CLOSE_WAIT\) holds its 4-tuple now: left alone$/);
  });

  it('a connection already gone is not ended again; two holders or an unanswered lookup fail closed', async () => {
    const gone = await run(windowsHost('SetTcpEntry=0', []), ['reset', '--state', 'CLOSE_WAIT', '--yes', '--json']);
    expect(JSON.parse(gone.out).results.find((r: { local: { address: string } }) => r.local.address === '10.1.2.3')).toMatchObject({ ended: true, alreadyGone: true });

    const two = await run(windowsHost('SetTcpEntry=0', [SEEN, SEEN]), ['reset', '--state', 'CLOSE_WAIT', '--yes']);
    expect(two.out).toContain('2 connections hold its 4-tuple now: it is not known which is the one seen, so it was left alone');
    expect(two.code).toBe(1);

    const missing = windowsHost('SetTcpEntry=0', [SEEN], "Get-NetTCPConnection : The term 'Get-NetTCPConnection' is not recognized as the name of a cmdlet\r\n");
    const noLookup = await run(missing, ['reset', '--state', 'CLOSE_WAIT', '--yes']);
    expect(noLookup.out).toContain("its state now could not be checked (Get-NetTCPConnection : The term 'Get-NetTCPConnection' is not recognized as the name of a cmdlet), so it was left alone");
    expect(noLookup.code).toBe(1);
  });
});

describe('the reset script environment (windowsKillEnv)', () => {
  const row = { protocol: 'tcp' as const, local: { address: '10.1.2.3', port: 50110 }, remote: { address: '10.50.0.9', port: 8080 }, state: TcpState.SYN_SENT, rawState: '3' };

  it('passes the creation time the poll read (reading time minus the age), and nothing for what the poll did not read', () => {
    expect(windowsKillEnv({ ...row, createdAgoMs: 60_000 }, 1_700_000_060_250)).toMatchObject({
      TCPDWELL_STATE: '3',
      TCPDWELL_CREATED_UNIX_MS: '1700000000250',
      TCPDWELL_CREATED_TOLERANCE_MS: String(CREATED_TOLERANCE_MS),
    });
    const bare = windowsKillEnv(row, 1_700_000_060_250);
    expect(Object.keys(bare).sort()).toEqual(['TCPDWELL_LOCAL_ADDRESS', 'TCPDWELL_LOCAL_PORT', 'TCPDWELL_REMOTE_ADDRESS', 'TCPDWELL_REMOTE_PORT', 'TCPDWELL_STATE']);
  });

  it('a creation time beyond the tolerance is a newer connection, within it the same one', async () => {
    const seenCreated = 1_700_000_000_000;
    const answer = (createdUnixMs: number, withCall: boolean) => {
      const platform = new FakePlatform();
      platform.os = 'win32';
      platform.commands = [
        () => ({ stdout: ['Found=1', 'StateNow=3', 'OwningProcess=7744', `CreatedUnixMs=${createdUnixMs}`, ...(withCall ? ['SetTcpEntry=0'] : []), ''].join('\r\n'), stderr: '', exitCode: 0 }),
      ];
      return killWindowsSocket(platform, { ...row, createdAgoMs: 60_000 }, seenCreated + 60_000);
    };
    expect(await answer(seenCreated + CREATED_TOLERANCE_MS, true)).toEqual({ ended: true });
    const newer = await answer(seenCreated + 90_000, false);
    expect(newer).toMatchObject({ ended: false, reusedTuple: true });
  });

  it('an IPv4-mapped row of an IPv6 socket is refused: SetTcpEntry would look in the IPv4 table', () => {
    expect(windowsRefusalReason({ ...row, protocol: 'tcp6' })).toBe('Windows can end IPv4 connections only (SetTcpEntry has no IPv6 form)');
    expect(windowsRefusalReason(row)).toBeUndefined();
  });

  it('the lookup fails closed: only CIM ObjectNotFound is "gone", any other error stops the script', () => {
    expect(END_CONNECTION_SCRIPT).toContain('-ErrorAction Stop');
    expect(END_CONNECTION_SCRIPT).toContain("if ($_.CategoryInfo.Category -eq 'ObjectNotFound') { $now = @() } else { throw }");
    expect(END_CONNECTION_SCRIPT).not.toContain('SilentlyContinue)');
  });
});
