import { describe, expect, it } from 'vitest';
import { ConntrackSource } from '../../src/sources/linux/conntrack.js';
import { NetlinkSource, type NetlinkSourceOptions } from '../../src/sources/linux/netlink.js';
import { NETLINK_FIRST_IN_AUTO } from '../../src/sources/linux/records.js';
import { autoCandidates } from '../../src/sources/registry.js';
import { SourceSelector } from '../../src/sources/select-source.js';
import { SourceError, SourceUnavailableError } from '../../src/sources/source.js';
import { FakePlatform, parkSocketsHost } from '../fake-platform.js';
import { readFixture, readFixtureBytes } from '../fixture.js';
import { capturedReplyTo } from './linux/captured-kernel.js';

describe('auto per OS', () => {
  it('Linux: netlink, ss, then procfs (procfs only under a foreign proc root); Windows: netstat then the library; elsewhere: the library', () => {
    expect(autoCandidates('linux', '/proc').map((c) => c.source.name)).toEqual(['netlink', 'ss', 'procfs']);
    // A platform that opens no kernel socket (a test fake) has no netlink to try.
    expect(autoCandidates('linux', '/proc', { kernelSockets: false }).map((c) => c.source.name)).toEqual(['ss', 'procfs']);
    expect(autoCandidates('linux', '/proc', { netlinkFirst: false }).map((c) => c.source.name)).toEqual(['ss', 'procfs']);
    expect(autoCandidates('linux', '/host/proc').map((c) => c.source.name)).toEqual(['procfs']);
    expect(autoCandidates('win32', '/proc').map((c) => c.source.name)).toEqual(['netstat', 'systeminformation']);
    expect(autoCandidates('darwin', '/proc').map((c) => c.source.name)).toEqual(['systeminformation']);
  });

  it('Windows without netstat.exe falls back once, with one notice naming what is lost', async () => {
    const platform = new FakePlatform();
    platform.os = 'win32';
    const selector = new SourceSelector('auto', platform, { procRoot: '/proc' });
    // No command answers (ENOENT), so netstat is unavailable; the library behind the fallback is the
    // real one, reading this Linux host, which is all this test needs of it.
    const reading = await selector.read();
    expect(selector.name).toBe('systeminformation');
    expect(reading.notices[0]).toBe('netstat.exe is not available; using the systeminformation library instead (states and owners only: no idle, no first-sight dwell)');
    selector.close();
  }, 30_000);
});

describe('--source ss or netlink with another --proc-root', () => {
  it("says once that the table is this namespace's and the proc root gives owners and settings only", async () => {
    const platform = parkSocketsHost();
    // A procfs root lists `self` (proc(5)); this fake one holds nothing else.
    platform.links.set('/host/proc/self', '1');
    const selector = new SourceSelector('ss', platform, { procRoot: '/host/proc' });
    const first = await selector.read();
    expect(first.rows.length).toBeGreaterThan(0);
    expect(first.notices[0]).toBe(
      "--source ss reads this process's own network namespace, not the one of /host/proc: /host/proc gives owners and kernel settings only (--source procfs reads /host/proc/net/tcp)",
    );
    expect((await selector.read()).notices.some((n) => n.includes('own network namespace'))).toBe(false);
    selector.close();
  });

  it('no such notice under /proc, nor for procfs under another root (it reads that root)', async () => {
    expect((await new SourceSelector('ss', parkSocketsHost(), { procRoot: '/proc' }).read()).notices.some((n) => n.includes('own network namespace'))).toBe(false);
    const platform = new FakePlatform();
    platform.files.set('/host/proc/net/tcp', readFixture('linux-proc-net-tcp-jc.txt'));
    platform.files.set('/host/proc/net/tcp6', '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n');
    const reading = await new SourceSelector('procfs', platform, { procRoot: '/host/proc' }).read();
    expect(reading.rows.length).toBeGreaterThan(0);
    expect(reading.notices.some((n) => n.includes('own network namespace'))).toBe(false);
  });
});

describe('a --proc-root that is not a procfs mount point (/proc/PID, a plain directory)', () => {
  // parkSocketsHost's /proc/4242 is one process's directory: fd/, comm, ns/ (written for the test,
  // in the shape of a real /proc/<pid>), and no `self` or process directories of its own.
  const PID_DIR = "--proc-root /proc/4242 is one process's directory, not a procfs mount point (for that process's network namespace use --netns 4242)";

  it('ss: says so once, in place of the "gives owners" notice; looks up no owner and reads no kernel setting there', async () => {
    const platform = parkSocketsHost();
    platform.files.set('/proc/4242/sys/net/ipv4/tcp_fin_timeout', '60\n');
    const selector = new SourceSelector('ss', platform, { procRoot: '/proc/4242' });
    const first = await selector.read();
    expect(first.rows.length).toBeGreaterThan(0);
    expect(first.notices).toEqual([`${PID_DIR}: owners are unknown (not looked up; PID/PROCESS shows - for every socket) and kernel settings are not read`]);
    expect((await selector.read()).notices).toEqual([]);
    // No lookup: "-" would otherwise read as "no process holds it" for every socket, unproven.
    expect(selector.owners).toBeUndefined();
    expect(await selector.hostFacts()).toEqual({});
    expect(platform.listed.filter((path) => path.startsWith('/proc/4242/'))).toEqual([]);
    selector.close();
  });

  it('kernel settings asked for before the first read (list --why, the dashboard) are not read there either', async () => {
    const platform = parkSocketsHost();
    platform.files.set('/proc/4242/sys/net/ipv4/tcp_fin_timeout', '60\n');
    const selector = new SourceSelector('procfs', platform, { procRoot: '/proc/4242' });
    expect(await selector.hostFacts()).toEqual({});
    expect(selector.ownersUnknown).toBe(PID_DIR);
    // Checked once: the first reading still says so, and the directory is listed once.
    platform.files.set('/proc/4242/net/tcp', readFixture('linux-proc-net-tcp-jc.txt'));
    expect((await selector.read()).notices[0]).toBe(`${PID_DIR}: owners are unknown (not looked up; PID/PROCESS shows - for every socket) and kernel settings are not read`);
    expect(platform.listed.filter((path) => path === '/proc/4242')).toHaveLength(1);
  });

  it('procfs: the table under it is still read (one process\'s namespace, README "check"), and the notice said once', async () => {
    const platform = parkSocketsHost();
    platform.files.set('/proc/4242/net/tcp', readFixture('linux-proc-net-tcp-jc.txt'));
    platform.files.set('/proc/4242/net/tcp6', '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n');
    const selector = new SourceSelector('procfs', platform, { procRoot: '/proc/4242' });
    const first = await selector.read();
    expect(first.rows.length).toBeGreaterThan(0);
    expect(first.notices[0]).toBe(`${PID_DIR}: owners are unknown (not looked up; PID/PROCESS shows - for every socket) and kernel settings are not read`);
    expect((await selector.read()).notices.some((n) => n.includes('procfs mount point'))).toBe(false);
    expect(selector.owners).toBeUndefined();
  });

  it('a directory that is neither, or none at all, is named as such; a procfs root (self, process directories) gets no notice and its owners', async () => {
    const plain = parkSocketsHost();
    plain.files.set('/srv/copy/net/tcp', 'x');
    expect((await new SourceSelector('ss', plain, { procRoot: '/srv/copy' }).read()).notices[0]).toMatch(
      /^--proc-root \/srv\/copy is not a procfs mount point \(no process directories, no "self"\): owners are unknown/,
    );
    expect((await new SourceSelector('ss', parkSocketsHost(), { procRoot: '/nowhere' }).read()).notices[0]).toMatch(/^--proc-root \/nowhere cannot be listed \(no such file\): owners are unknown/);
    const host = parkSocketsHost();
    host.links.set('/host/proc/4242/fd/3', 'socket:[6731]');
    host.files.set('/host/proc/4242/comm', 'python3\n');
    const selector = new SourceSelector('ss', host, { procRoot: '/host/proc' });
    expect((await selector.read()).notices.some((n) => n.includes('procfs mount point'))).toBe(false);
    expect(selector.owners).toBeDefined();
  });
});

describe('ConntrackSource through the seam', () => {
  it('reads the table with the namespace timeouts; a missing table is unavailable; permission denied says so', async () => {
    const platform = new FakePlatform();
    platform.files.set('/proc/net/nf_conntrack', readFixture('linux-nf-conntrack-park-sockets-kernel6.txt'));
    platform.files.set('/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_syn_sent', '120\n');
    const reading = await new ConntrackSource().read(platform, { procRoot: '/proc' });
    const synSent = reading.rows.find((r) => r.state === 'SYN_SENT')!;
    expect(synSent.activity?.lastPacketAgoMs).toBe(6000);
    // No timeout file for ESTABLISHED: its time since the last packet stays unknown.
    expect(reading.rows.find((r) => r.state === 'ESTABLISHED')!.activity).toBeUndefined();

    const empty = new FakePlatform();
    await expect(new ConntrackSource().read(empty, { procRoot: '/proc' })).rejects.toBeInstanceOf(SourceUnavailableError);
    empty.files.set('/proc/net/nf_conntrack', Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    await expect(new ConntrackSource().read(empty, { procRoot: '/proc' })).rejects.toThrow(new SourceError('cannot read /proc/net/nf_conntrack: permission denied (run as root)'));
  });
});

describe('netlink (sock_diag) first in auto, through the channel seam', () => {
  const ssAnswer = () => ({ stdout: readFixture('linux-ss-tanoie-park-sockets-kernel6.txt'), stderr: '', exitCode: 0 });
  const linux = () => {
    const platform = new FakePlatform();
    platform.commands = [ssAnswer];
    return platform;
  };
  const withChannel = (openChannel: NetlinkSourceOptions['openChannel']) => ({ netlinkFirst: true, netlink: { openChannel } });
  /** A channel answering each dump as the kernel would, from the captured dumps. */
  const kernelChannel = () => () => ({
    dump: async ({ request }: { request: Uint8Array }, onDatagram: (bytes: Uint8Array) => void) => onDatagram(capturedReplyTo(request)),
    close: () => undefined,
  });
  /** A channel answering the nth dump with the nth list of datagrams (round robin). */
  const channelOf = (replies: Uint8Array[][]) => {
    let next = 0;
    return () => ({
      dump: async (_request: unknown, onDatagram: (bytes: Uint8Array) => void) => {
        for (const datagram of replies[next++ % replies.length]!) onDatagram(datagram);
      },
      close: () => undefined,
    });
  };
  const nlmsgError = (errno: number) => {
    const bytes = new Uint8Array(36);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 36, true);
    view.setUint16(4, 2, true);
    view.setInt32(16, -errno, true);
    return bytes;
  };

  it('the order is netlink, ss, procfs, by default on a platform that opens kernel sockets', () => {
    expect(NETLINK_FIRST_IN_AUTO).toBe(true);
    expect(autoCandidates('linux', '/proc', { kernelSockets: true }).map((c) => c.source.name)).toEqual(['netlink', 'ss', 'procfs']);
    expect(autoCandidates('linux', '/proc', { netlinkFirst: true }).map((c) => c.source.name)).toEqual(['netlink', 'ss', 'procfs']);
    expect(autoCandidates('linux', '/host/proc', { netlinkFirst: true }).map((c) => c.source.name)).toEqual(['procfs']);
  });

  it('a platform that opens kernel sockets, with the koffi library missing: auto reads ss with one notice (no channel injected)', async () => {
    const platform = linux();
    platform.kernelSockets = true;
    // The real channel opener, with koffi made unfindable by the source: the record's own `create`.
    const selector = new SourceSelector(
      'auto',
      platform,
      { procRoot: '/proc' },
      {
        netlink: {
          openChannel: () => {
            throw new SourceUnavailableError('netlink: the koffi library is not installed (an optional dependency)');
          },
        },
      },
    );
    const first = await selector.read();
    expect(selector.name).toBe('ss');
    expect(first.notices).toEqual(['netlink: the koffi library is not installed (an optional dependency); using ss instead']);
    expect((await selector.read()).notices).toEqual([]);
  });

  it('a fake platform (no kernel sockets) never reads the real kernel: --source netlink is unavailable there', async () => {
    await expect(new NetlinkSource().read(linux(), { procRoot: '/proc' })).rejects.toThrow(new SourceUnavailableError('netlink: this platform opens no kernel socket'));
    const selector = new SourceSelector('auto', linux(), { procRoot: '/proc' });
    const reading = await selector.read();
    expect(selector.name).toBe('ss');
    expect(reading.notices).toEqual([]);
  });

  it('library missing: auto reads ss, with one notice, then none', async () => {
    const platform = linux();
    const missing = () => {
      throw new SourceUnavailableError('netlink: the koffi library is not installed (an optional dependency)');
    };
    const selector = new SourceSelector('auto', platform, { procRoot: '/proc' }, withChannel(missing));
    const first = await selector.read();
    expect(selector.name).toBe('ss');
    expect(first.source).toBe('ss');
    expect(first.rows.length).toBeGreaterThan(10);
    expect(first.notices).toEqual(['netlink: the koffi library is not installed (an optional dependency); using ss instead']);
    expect((await selector.read()).notices).toEqual([]);
  });

  it('sock_diag refused (socket() EPROTONOSUPPORT, or the dump answered with NLMSG_ERROR) : auto reads ss with one notice', async () => {
    const refusedSocket = () => ({
      dump: () => Promise.reject(new SourceUnavailableError('netlink: the kernel refuses NETLINK_SOCK_DIAG (EPROTONOSUPPORT)')),
      close: () => undefined,
    });
    const first = new SourceSelector('auto', linux(), { procRoot: '/proc' }, withChannel(refusedSocket));
    expect((await first.read()).notices).toEqual(['netlink: the kernel refuses NETLINK_SOCK_DIAG (EPROTONOSUPPORT); using ss instead']);
    const second = new SourceSelector('auto', linux(), { procRoot: '/proc' }, withChannel(channelOf([[nlmsgError(2)]])));
    const reading = await second.read();
    expect(second.name).toBe('ss');
    expect(reading.notices).toEqual(['netlink: the kernel refuses the TCP dump (ENOENT; is tcp_diag loaded?); using ss instead']);
  });

  it('no ss either: procfs, with the notice of the last refusal and what procfs lacks', async () => {
    const platform = new FakePlatform();
    platform.files.set('/proc/net/tcp', readFixture('linux-proc-net-tcp-jc.txt'));
    const missing = () => {
      throw new SourceUnavailableError('netlink: the koffi library is not installed (an optional dependency)');
    };
    const selector = new SourceSelector('auto', platform, { procRoot: '/proc' }, withChannel(missing));
    const reading = await selector.read();
    expect(selector.name).toBe('procfs');
    expect(reading.notices[0]).toBe('ss (iproute2) is not installed; using /proc/net/tcp instead (no activity data: idle and half-close restarts are not measured)');
  });

  it('sock_diag answering: auto reads netlink, with no notice, the rows of both families', async () => {
    const platform = linux();
    const selector = new SourceSelector('auto', platform, { procRoot: '/proc' }, withChannel(kernelChannel()));
    const reading = await selector.read();
    expect(selector.name).toBe('netlink');
    expect(reading.notices).toEqual([]);
    expect(reading.completeProtocols).toEqual(['tcp', 'tcp6']);
    expect(new Set(reading.rows.map((r) => r.protocol))).toEqual(new Set(['tcp', 'tcp6']));
    expect(platform.ran).toEqual([]);
  });

  it("prefetchOwners before auto has chosen starts the first candidate's /proc walk; the lookup of the source that answers uses it, another's drops it", async () => {
    // A /proc written for the test: one process of this namespace holding one socket (inode 777).
    const withProc = () => {
      const platform = linux();
      platform.links.set('/proc/self/ns/net', 'net:[1]');
      platform.links.set('/proc/42/ns/net', 'net:[1]');
      platform.links.set('/proc/42/fd/3', 'socket:[777]');
      platform.files.set('/proc/42/comm', 'app\n');
      const signals: (AbortSignal | undefined)[] = [];
      const readLinks = platform.readSocketInodes.bind(platform);
      platform.readSocketInodes = (dir: string, signal?: AbortSignal) => (signals.push(signal), readLinks(dir));
      return { platform, signals };
    };
    const row = { inode: 777 } as Parameters<NonNullable<SourceSelector['owners']>['find']>[0][number];

    const answering = withProc();
    const selector = new SourceSelector('auto', answering.platform, { procRoot: '/proc' }, withChannel(kernelChannel()));
    selector.prefetchOwners();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(answering.platform.listed).toContain('/proc/42/fd'); // read before any reading
    await selector.read();
    expect(selector.name).toBe('netlink');
    const listedBefore = answering.platform.listed.length;
    const answer = await selector.owners!.find([row]);
    expect(answer.ownership).toEqual([{ inode: 777, owner: { pid: 42, process: 'app' } }]);
    expect(answering.platform.listed.length).toBe(listedBefore); // the prefetched walk, not a second one

    const fallingBack = withProc();
    const missing = () => {
      throw new SourceUnavailableError('netlink: the koffi library is not installed (an optional dependency)');
    };
    const other = new SourceSelector('auto', fallingBack.platform, { procRoot: '/proc' }, withChannel(missing));
    other.prefetchOwners();
    await new Promise((resolve) => setTimeout(resolve, 0));
    await other.read();
    expect(other.name).toBe('ss');
    const owners = other.owners!;
    // netlink's lookup was dropped (its walk stopped); ss's own looks up afresh.
    expect(fallingBack.signals.length).toBe(1);
    expect(fallingBack.signals[0]?.aborted).toBe(true);
    expect((await owners.find([row])).ownership).toEqual([{ inode: 777, owner: { pid: 42, process: 'app' } }]);
    expect(fallingBack.signals.length).toBe(2);
    other.close();
  });

  it('a dump that stops before NLMSG_DONE is a failed poll, not an empty table', async () => {
    const inet = readFixtureBytes('linux-sock-diag-inet-park-sockets-kernel6.bin');
    const cut = inet.subarray(0, new DataView(inet.buffer, inet.byteOffset).getUint32(0, true));
    const source = new NetlinkSource({ openChannel: channelOf([[cut]]) });
    await expect(source.read(linux(), { procRoot: '/proc' })).rejects.toThrow(new SourceError('netlink: the dump ended without NLMSG_DONE'));
  });
});
