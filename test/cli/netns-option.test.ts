import { describe, expect, it } from 'vitest';
import { FakePlatform, runOn } from '../fake-platform.js';

describe('--netns on the command line', () => {
  it.each([
    [['list', '--netns', '0'], /not a process id/],
    [['list', '--netns', '..'], /not a namespace name/],
    [['list', '--netns', 'all', '--input', 'x.txt'], /does not go with --input/],
    [['serve', '--netns-series', '5'], /go with --netns/],
    [['serve', '--netns', 'all', '--netns-series', '0'], /whole number from 1/],
    // Sources without the netns capability: the flags contradict each other whatever the host.
    // (netlink reads other namespaces since its worker enters them: no longer among these.)
    [['list', '--netns', 'all', '--source', 'conntrack'], /--netns reads namespaces through ss, procfs or netlink \(or auto\), not --source conntrack/],
    [['check', '--netns', 'web', '--source', 'conntrack'], /not --source conntrack/],
    [['watch', '--netns', '1', '--source', 'systeminformation'], /not --source systeminformation/],
  ])('%j is a usage error (64), said in one line', async (argv, message) => {
    const { code, err } = await runOn(new FakePlatform(), argv);
    expect(code).toBe(64);
    expect(err).toMatch(message);
    expect(err.trim().split('\n').length).toBe(1);
  });

  it('on Windows, --netns is refused as a source error (3), not a crash', async () => {
    const platform = new FakePlatform();
    platform.os = 'win32';
    const { code, err } = await runOn(platform, ['list', '--netns', 'all']);
    expect(code).toBe(3);
    expect(err).toMatch(/--netns reads Linux network namespaces/);
  });

  it('a name no namespace has: exit 3 with the name', async () => {
    const platform = new FakePlatform();
    platform.links.set('/proc/1/ns/net', 'net:[10]');
    platform.files.set('/proc/self/mountinfo', '');
    const { code, err } = await runOn(platform, ['list', '--netns', 'db']);
    expect(code).toBe(3);
    expect(err).toMatch(/no network namespace named "db"/);
  });
});
