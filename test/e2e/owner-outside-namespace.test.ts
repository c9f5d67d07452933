import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warnSkip } from '../needs-program.js';
import { Holders, tcpdwellOnHost, type Holder } from './namespace-holders.js';
import { CLI, whyNotRunnable } from './parked-namespace.js';

// A socket held outside its network namespace, on the real kernel: a python3 process of the host's
// namespace setns(2)s into a namespace of this test's own, opens a listener and a half-closed
// loopback session there (CLOSE_WAIT and FIN_WAIT_2), and goes back to the host's namespace. Its
// sockets stay in the namespace they were made in; `ip netns exec NAME ss -tanp` names the process,
// and so must tcpdwell, through --netns NAME and from inside the namespace (ip netns exec).

const NAME = `tcpdwell-ownerns-${process.pid}`;
const LISTEN_PORT = 47210;
const SERVER_PORT = 47211;
const CLIENT_PORT = 47212;

/** python3 source: enters /run/netns/NAME, parks the sockets, returns, prints {"pid", "netns"} (the host's), holds until stdin closes. */
const HOLDER = `
import ctypes, json, os, socket, sys
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
def enter(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), 'setns')
home = os.open('/proc/self/ns/net', os.O_RDONLY)
there = os.open('/run/netns/${NAME}', os.O_RDONLY)
enter(there)
lst = socket.socket(); lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(('127.0.0.1', ${LISTEN_PORT})); lst.listen(8)
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', ${SERVER_PORT})); srv.listen(8)
cli = socket.socket(); cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
cli.bind(('127.0.0.1', ${CLIENT_PORT})); cli.connect(('127.0.0.1', ${SERVER_PORT}))
acc, _ = srv.accept()
cli.shutdown(socket.SHUT_WR)
enter(home)
os.close(there); os.close(home)
print(json.dumps({'pid': os.getpid(), 'netns': os.readlink('/proc/self/ns/net')}), flush=True)
sys.stdin.read()
`;

interface JsonRow {
  state: string;
  local: { address: string; port: number };
  remote: { address: string; port: number };
  pid: number | null;
  process: string | null;
}

/** The parked sockets' [state, local port, pid], in a set order. */
function parked(rows: JsonRow[]): [string, number, number | null][] {
  const ports = [LISTEN_PORT, SERVER_PORT, CLIENT_PORT];
  return rows
    .filter((r) => ports.includes(r.local.port) && r.local.address === '127.0.0.1')
    .map((r): [string, number, number | null] => [r.state, r.local.port, r.pid])
    .sort((a, b) => a[0].localeCompare(b[0]) || a[1] - b[1]);
}

const skip = whyNotRunnable();
warnSkip('owners outside their namespace end-to-end tests', skip);
const holders = new Holders();

function stopAll(): void {
  holders.stopAll();
  try {
    execFileSync('ip', ['netns', 'delete', NAME], { stdio: 'ignore' });
  } catch {
    // not made, or gone already
  }
}

describe.skipIf(skip !== undefined)('a socket held by a process outside its network namespace, on the real kernel', () => {
  let holder: Holder;

  beforeAll(async () => {
    try {
      execFileSync('ip', ['netns', 'add', NAME]);
      execFileSync('ip', ['netns', 'exec', NAME, 'ip', 'link', 'set', 'lo', 'up']);
      holder = await holders.start(['python3', '-c', HOLDER]);
    } catch (error) {
      stopAll();
      throw error;
    }
  }, 30_000);

  afterAll(stopAll);

  it('the holder is back in the host namespace, and ss inside the namespace names it (the case is set up)', () => {
    expect(holder.inode).toBe(Number(/\d+/.exec(readlinkSync('/proc/self/ns/net'))![0]));
    const ss = execFileSync('ip', ['netns', 'exec', NAME, 'ss', '-tanp'], { encoding: 'utf8' });
    expect(ss).toContain(`pid=${holder.pid},`);
  });

  it('list --netns NAME --json names its pid on the listener, the CLOSE_WAIT and the FIN_WAIT_2', async () => {
    const { code, stdout, stderr } = await tcpdwellOnHost(['list', '--netns', NAME, '--json']);
    expect(code, stderr).toBe(0);
    expect(parked(JSON.parse(stdout) as JsonRow[])).toEqual([
      ['CLOSE_WAIT', SERVER_PORT, holder.pid],
      ['FIN_WAIT_2', CLIENT_PORT, holder.pid],
      ['LISTEN', LISTEN_PORT, holder.pid],
      ['LISTEN', SERVER_PORT, holder.pid],
    ]);
  }, 60_000);

  it('ip netns exec NAME tcpdwell list --source ss --json (no --netns) names it too, and --process python3 selects them', async () => {
    const inside = (args: string[]) => execFileSync('ip', ['netns', 'exec', NAME, process.execPath, CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
    expect(parked(JSON.parse(inside(['list', '--source', 'ss', '--json'])) as JsonRow[])).toEqual([
      ['CLOSE_WAIT', SERVER_PORT, holder.pid],
      ['FIN_WAIT_2', CLIENT_PORT, holder.pid],
      ['LISTEN', LISTEN_PORT, holder.pid],
      ['LISTEN', SERVER_PORT, holder.pid],
    ]);
    const selected = JSON.parse(inside(['list', '--source', 'ss', '--process', 'python3', '--json'])) as JsonRow[];
    expect(parked(selected).map(([state]) => state)).toEqual(['CLOSE_WAIT', 'FIN_WAIT_2', 'LISTEN', 'LISTEN']);
  }, 60_000);
});
