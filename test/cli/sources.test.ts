import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { FakePlatform, fakeContext, parkSocketsHost } from '../fake-platform.js';

async function sources(platform: FakePlatform, json = true) {
  const context = fakeContext(platform);
  const code = await runCli(['sources', ...(json ? ['--json'] : [])], context, '0.1.0');
  return { code, out: context.out() };
}

type Entry = { name: string; available: boolean; reason: string | null; auto: boolean; activity: string };

describe('tcpdwell sources', () => {
  it('Linux with ss and procfs, no conntrack table: auto is ss, and each reason is given', async () => {
    const platform = new FakePlatform();
    platform.commands = [() => ({ stdout: 'ss utility, iproute2-6.1.0\n', stderr: '', exitCode: 0 })];
    platform.files.set('/proc/net/tcp', '  sl  local_address rem_address   st\n');
    const { code, out } = await sources(platform);
    expect(code).toBe(0);
    const entries = JSON.parse(out) as Entry[];
    expect(entries.map((e) => [e.name, e.available, e.auto])).toEqual([
      ['ss', true, true],
      ['procfs', true, false],
      ['netstat', false, false],
      ['powershell', false, false],
      ['systeminformation', true, false],
      ['conntrack', false, false],
      // A fake platform opens no kernel socket: netlink is not available through it.
      ['netlink', false, false],
    ]);
    expect(entries.find((e) => e.name === 'conntrack')!.reason).toBe('/proc/net/nf_conntrack does not exist');
    expect(entries.find((e) => e.name === 'netstat')!.reason).toBe('not on linux');
    expect(entries.find((e) => e.name === 'netlink')!.reason).toBe('this platform opens no kernel socket');
    expect(platform.ran).toEqual([['ss', '-V']]);
  });

  it('Linux where kernel sockets can be opened and koffi is installed: auto is netlink, ss and procfs are its fallbacks', async () => {
    const platform = new FakePlatform();
    platform.kernelSockets = true;
    platform.commands = [() => ({ stdout: 'ss utility, iproute2-6.1.0\n', stderr: '', exitCode: 0 })];
    platform.files.set('/proc/net/tcp', '  sl  local_address rem_address   st\n');
    const { out } = await sources(platform, false);
    // koffi is an optional dependency of this package, installed here: the kernel is asked at the first poll.
    expect(out).toMatch(/\nnetlink \(auto\) +yes/);
    expect(out).toMatch(/\nss +yes/);
    expect(out.trimEnd().split('\n').pop()).toBe('--source auto uses netlink here.');
  });

  it('Linux without ss: auto falls to procfs; the text form says so', async () => {
    const platform = new FakePlatform();
    platform.files.set('/proc/net/tcp', '');
    const { out } = await sources(platform, false);
    expect(out).toMatch(/^SOURCE +HERE +OWNERS/);
    expect(out).toMatch(/\nss +no +/);
    expect(out).toContain('ss (iproute2) is not installed');
    expect(out).toMatch(/\nprocfs \(auto\) +yes/);
    expect(out.trimEnd().split('\n').pop()).toBe('--source auto uses procfs here.');
  });

  it('Windows: netstat and PowerShell probed by running them', async () => {
    const platform = new FakePlatform();
    platform.os = 'win32';
    platform.commands = [(argv) => (argv[0] === 'netstat' ? { stdout: '', stderr: '', exitCode: 0 } : Object.assign(new Error('ENOENT'), { code: 'ENOENT' }))];
    const entries = JSON.parse((await sources(platform)).out) as Entry[];
    expect(entries.filter((e) => e.available).map((e) => e.name)).toEqual(['netstat', 'systeminformation']);
    expect(entries.find((e) => e.auto)!.name).toBe('netstat');
    expect(entries.find((e) => e.name === 'powershell')!.reason).toBe('powershell.exe did not run');
  });
});

describe('tcpdwell sources in 80 columns (issue 16.14)', () => {
  it('no line is wider than 80 columns, on Linux and on Windows, with the reasons given', async () => {
    for (const os of ['linux', 'win32']) {
      const platform = new FakePlatform();
      platform.os = os;
      // ss answers with a failure whose message is long (written for the test).
      platform.commands = [() => ({ stdout: '', stderr: 'Cannot open netlink socket: Protocol not supported by this kernel build\n', exitCode: 1 })];
      const { code, out } = await sources(platform, false);
      expect(code).toBe(0);
      expect(out.split('\n').filter((line) => [...line].length > 80)).toEqual([]);
      expect(out).toMatch(os === 'linux' ? /\nss +no +owners: inode/ : /\nnetstat +no +owners: PID column[^]*netstat -n -p TCP exited with 1/);
    }
  });
});

describe('tcpdwell sources --proc-root that is not a procfs mount point', () => {
  it('says so on stderr, in the words the other commands use (notProcRoot); a procfs root is not named', async () => {
    const platform = parkSocketsHost();
    const context = fakeContext(platform);
    const code = await runCli(['sources', '--json', '--proc-root', '/proc/4242'], context, '0.1.0');
    expect(code).toBe(0);
    expect(JSON.parse(context.out())).toHaveLength(7);
    expect(context.err()).toBe(
      "tcpdwell: --proc-root /proc/4242 is one process's directory, not a procfs mount point (for that process's network namespace use --netns 4242): owners are unknown (not looked up; PID/PROCESS shows - for every socket) and kernel settings are not read\n",
    );
    const fine = fakeContext(parkSocketsHost());
    expect(await runCli(['sources', '--proc-root', '/proc'], fine, '0.1.0')).toBe(0);
    expect(fine.err()).toBe('');
  });
});
