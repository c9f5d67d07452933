import { describe, expect, it } from 'vitest';
import { ConntrackSource } from '../../src/sources/linux/conntrack.js';
import { SourceSelector, autoOrder } from '../../src/sources/select-source.js';
import { SourceError, SourceUnavailableError } from '../../src/sources/source.js';
import { FakePlatform } from '../fake-platform.js';
import { readFixture } from '../fixture.js';

describe('auto per OS', () => {
  it('Linux: ss then procfs (procfs only under a foreign proc root); Windows: netstat then the library; elsewhere: the library', () => {
    expect(autoOrder('linux', '/proc').map((s) => s.name)).toEqual(['ss', 'procfs']);
    expect(autoOrder('linux', '/host/proc').map((s) => s.name)).toEqual(['procfs']);
    expect(autoOrder('win32', '/proc').map((s) => s.name)).toEqual(['netstat', 'systeminformation']);
    expect(autoOrder('darwin', '/proc').map((s) => s.name)).toEqual(['systeminformation']);
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
