import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParkedNamespace, whyNotRunnable } from './parked-namespace.js';

// Issue 7 on the real kernel: a process leaking CLOSE_WAIT sockets, SYN_SENT piling up on one dead
// upstream, and reset through the kernel's socket-destroy interface.

const skipReason = whyNotRunnable();

describe.skipIf(skipReason !== undefined)('troubleshooting on the real kernel', () => {
  const ns = new ParkedNamespace();
  // 3 half-closed pairs (v4, v6, mapped) + 4 leaked = 7 CLOSE_WAIT in the helper; 3 SYN_SENT to one listener.
  beforeAll(() => ns.start(['--leak', '4', '--syn-sent', '3']), 20_000);
  afterAll(() => ns.stop());
  const quietExcept = (kind: string, value: string) => ['--half-open', '1h', '--half-close', '1h', '--idle', '1h'].map((arg, i, all) => (all[i - 1] === `--${kind}` ? value : arg));

  it('names the process that leaks CLOSE_WAIT sockets, with its count', async () => {
    await ns.waitUntilParkedFor(2500);
    const result = await ns.tcpdwell(['check', '--no-state', ...quietExcept('half-close', '2s')]);
    expect(result.code).toBe(1);
    const pid = ns.helperPid;
    expect(result.stdout).toContain(`FINDING python3[${pid}]: python3[${pid}] holds 7 CLOSE_WAIT sockets: a socket leak (it does not close connections its peers closed)`);
    const closeWaitLines = result.stdout.split('\n').filter((l) => l.startsWith('WARNING half-close: CLOSE_WAIT'));
    expect(closeWaitLines).toHaveLength(7);
    for (const line of closeWaitLines) expect(line).toMatch(new RegExp(`python3\\[${pid}\\] .*: the local process has not closed the socket after the peer did$`));
  }, 30_000);

  it('groups the SYN_SENT sockets of one dead upstream, and says its accept queue is full', async () => {
    await ns.waitUntilParkedFor(1500);
    const result = await ns.tcpdwell(['check', '--json', '--no-state', ...quietExcept('half-open', '1s')]);
    const report = JSON.parse(result.stdout);
    const upstream = ns.parked.find((p) => p.role === 'syn-sent')!.remote!;
    const target = `${upstream.address}:${upstream.port}`;
    // The backlog filler is the fourth connection to it, and it is established.
    expect(report.findings).toContainEqual(
      expect.objectContaining({
        code: 'upstream-unreachable',
        subject: target,
        summary: `3 of 4 connections to ${target} are half-open: its listener on this host has a full accept queue and drops SYNs`,
      }),
    );
    const synSent = report.flagged.filter((f: { state: string }) => f.state === 'SYN_SENT');
    expect(synSent).toHaveLength(3);
    for (const f of synSent) expect(f.finding.summary).toBe(`the listener ${target} has a full accept queue and drops SYNs`);
  }, 30_000);

  it('reset is a dry run without --yes, and with --yes ends the CLOSE_WAIT: gone from the next poll, an error for its owner', async () => {
    const leaker = ns.parked.find((p) => p.role === 'leak0-leaker')!;
    const local = `${leaker.local.address}:${leaker.local.port}`;
    const remote = `${leaker.remote!.address}:${leaker.remote!.port}`;
    // Both ends: the kernel may give another socket the same local port towards a different peer.
    const stillThere = async () => JSON.parse((await ns.tcpdwell(['list', '--json', '--local', local, '--remote', remote])).stdout).length;

    const dry = await ns.tcpdwell(['reset', '--state', 'CLOSE_WAIT', '--local', local]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would end CLOSE_WAIT ${local} -> ${remote} python3[${ns.helperPid}]`);
    expect(await stillThere()).toBe(1);
    expect(await ns.probe(leaker.local.port)).toBeNull(); // the owner can still use it

    const real = await ns.tcpdwell(['reset', '--yes', '--local', local, '--remote', remote]);
    expect(real).toMatchObject({ code: 0, stderr: '' });
    // ss -K, or SOCK_DESTROY with the cookie where the default source is netlink.
    expect(real.stdout).toMatch(new RegExp(`^ended     CLOSE_WAIT ${local} -> ${remote} python3\\[${ns.helperPid}\\] via (ss -K|SOCK_DESTROY)\n$`));
    expect(await stillThere()).toBe(0);
    expect(await ns.probe(leaker.local.port)).toBe('ECONNABORTED');
    // The kernel sends an RST as it destroys the socket: the peer's FIN_WAIT_2 ends too.
    const closer = ns.parked.find((p) => p.role === 'leak0-closer')!;
    const closerFlow = ['--local', `${closer.local.address}:${closer.local.port}`, '--remote', `${closer.remote!.address}:${closer.remote!.port}`];
    expect(JSON.parse((await ns.tcpdwell(['list', '--json', ...closerFlow, '--state', 'FIN_WAIT_2'])).stdout)).toEqual([]);
  }, 30_000);

  it('never resets a listener', async () => {
    const listener = ns.parked.find((p) => p.role === 'listener')!;
    const result = await ns.tcpdwell(['reset', '--yes', '--state', 'LISTEN', '--local', `${listener.local.address}:${listener.local.port}`]);
    expect(result.stdout).toContain('a listening socket is never reset');
    expect(JSON.parse((await ns.tcpdwell(['list', '--json', '--state', 'LISTEN'])).stdout).length).toBeGreaterThanOrEqual(7);
  }, 30_000);

  it('check --reset half-close ends every flagged half-close session', async () => {
    await ns.waitUntilParkedFor(2500);
    const halfClosed = JSON.parse((await ns.tcpdwell(['list', '--json', '--state', 'CLOSE_WAIT,FIN_WAIT_2'])).stdout).length;
    expect(halfClosed).toBeGreaterThanOrEqual(12); // 14 ends parked; an earlier test may have reset one pair
    const result = await ns.tcpdwell(['check', '--no-state', ...quietExcept('half-close', '2s'), '--reset', 'half-close']);
    const resets = result.stdout.split('\n').filter((l) => l.startsWith('RESET half-close:'));
    expect(resets.length).toBe(halfClosed);
    // Ending one end of a loopback pair sends an RST that ends the other first: that one was gone already.
    expect(resets.every((l) => /: ended via (ss -K|SOCK_DESTROY)( \(was gone already\))?$/.test(l))).toBe(true);
    expect(resets.filter((l) => l.endsWith('(was gone already)')).length).toBe(halfClosed / 2);
    expect(JSON.parse((await ns.tcpdwell(['list', '--json', '--state', 'CLOSE_WAIT,FIN_WAIT_2'])).stdout)).toEqual([]);
  }, 30_000);
});
