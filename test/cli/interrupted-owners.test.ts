import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interruptedError } from '../../src/platform/limits.js';
import { parkSocketsHost, runOn } from '../fake-platform.js';

// SIGINT/SIGTERM during the owner lookup (break-it pass): an interrupted read of /proc/<pid>/fd was
// taken for a process that exited, so every owner after it was "none", a count per process 0, and
// check said OK (with a state file: RESOLVED). Interrupted is not "no owner": nothing is judged.

const dir = mkdtempSync(join(tmpdir(), 'tcpdwell-interrupted-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'c.yaml');
writeFileSync(config, 'counts:\n  - name: leak\n    state: CLOSE_WAIT\n    per: process\n    warning: 2\n');

describe('an owner lookup cut short by a signal', () => {
  it('check with a count per process: UNKNOWN (3) naming the interruption, not OK; the same lookup uninterrupted warns', async () => {
    const whole = parkSocketsHost();
    const warned = await runOn(whole, ['check', '--no-state', '--config', config, '--format', 'nagios']);
    expect(warned.out).toMatch(/^TCPDWELL WARNING/);
    expect(warned.code).toBe(1);

    const cut = parkSocketsHost();
    cut.readSocketInodes = async () => {
      throw interruptedError();
    };
    const { code, out } = await runOn(cut, ['check', '--no-state', '--config', config, '--format', 'nagios']);
    expect(out).toBe("TCPDWELL UNKNOWN - interrupted while reading the sockets' owners: nothing was judged\n");
    expect(code).toBe(3);
  });

  it('list --process: exit 3 with the reason, not an empty list', async () => {
    const cut = parkSocketsHost();
    cut.listDirectory = async () => {
      throw interruptedError();
    };
    const { code, out, err } = await runOn(cut, ['list', '--process', 'python3', '--json']);
    expect(out).toBe('');
    expect(err).toContain("interrupted while reading the sockets' owners");
    expect(code).toBe(3);
  });

  it('owners denied (not root) with a count per process: UNKNOWN naming why, not OK with a count of 0', async () => {
    const denied = parkSocketsHost();
    denied.readSocketInodes = async () => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    };
    const { code, out } = await runOn(denied, ['check', '--no-state', '--config', config, '--format', 'nagios']);
    expect(out).toMatch(/^TCPDWELL UNKNOWN - .*the owners of some sockets could not be read \(permission denied; run as root\)/);
    expect(code).toBe(3);
  });

  it('owners denied to root with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: UNKNOWN still, naming a sandbox or LSM policy, not "run as root"', async () => {
    const denied = parkSocketsHost();
    denied.files.set('/proc/self/status', 'Uid:\t0\t0\t0\t0\nCapEff:\t000001fffeffffff\n');
    denied.readSocketInodes = async () => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    };
    const { code, out } = await runOn(denied, ['check', '--no-state', '--config', config, '--format', 'nagios']);
    expect(out).toMatch(/^TCPDWELL UNKNOWN - .*the owners of some sockets could not be read \(denied even to root with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: a sandbox or LSM policy\)/);
    expect(out).not.toContain('run as root');
    expect(code).toBe(3);
  });
});
