import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { END_CONNECTION_SCRIPT } from '../../src/sources/windows/socket-killer-windows.js';
import { FakePlatform, fakeContext } from '../fake-platform.js';

// reset on a simulated Windows host: netstat through the exec seam, SetTcpEntry through PowerShell.

const CLOSE_WAIT_V4 = '  TCP    10.1.2.3:50110         10.50.0.9:8080         CLOSE_WAIT      7744';
const CLOSE_WAIT_V6 = '  TCP    [fe80::1%7]:50111      [fe80::2%7]:8080       CLOSE_WAIT      7744';
const LISTENER = '  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1044';

function windowsHost(setTcpEntryAnswer: string) {
  const platform = new FakePlatform();
  platform.os = 'win32';
  let ended = false;
  platform.commands = [
    (argv) => {
      if (argv[0] === 'cmd') return { stdout: 'Active code page: 437\r\n', stderr: '', exitCode: 0 };
      if (argv[0] === 'tasklist') return { stdout: '"leaky.exe","7744","Console","1","9 K"\r\n', stderr: '', exitCode: 0 };
      if (argv[0] === 'netstat') return { stdout: [LISTENER, ...(ended ? [] : [CLOSE_WAIT_V4]), CLOSE_WAIT_V6, ''].join('\r\n'), stderr: '', exitCode: 0 };
      if (argv[0] === 'powershell.exe' && argv.includes('-EncodedCommand')) {
        ended = setTcpEntryAnswer === 'SetTcpEntry=0';
        return { stdout: `${setTcpEntryAnswer}\r\n`, stderr: '', exitCode: 0 };
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
    expect(platform.ranEnv[killIndex]).toEqual({ TCPDWELL_LOCAL_ADDRESS: '10.1.2.3', TCPDWELL_LOCAL_PORT: '50110', TCPDWELL_REMOTE_ADDRESS: '10.50.0.9', TCPDWELL_REMOTE_PORT: '8080' });
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
});
