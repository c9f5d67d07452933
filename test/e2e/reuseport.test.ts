import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warnSkip } from '../needs-program.js';
import { cliIn, deleteNamespace, whyNotRunnable } from './parked-namespace.js';

// An SO_REUSEPORT group with one full listener, on the real kernel: listener F (backlog 0) is
// filled by one connection it never accepts, then listener R (backlog 128) joins it on the same
// port, then 16 clients connect without waiting. The kernel gives each SYN to one listener of the
// group by 4-tuple hash: those given to F are dropped (its accept queue is full) and stay in
// SYN_SENT, those given to R complete. The kernel lists R first (IPv4 listeners are added at the
// head of their hash chain), so a diagnosis reading the first listener listed saw a roomy queue
// and said the listener "does not answer (a firewall rule…)"; the tracker also kept one LISTEN row
// for the two sockets ss lists, and counted one.

const NAME = `tcpdwell-diag-reuseport-${process.pid}`;
const skip = whyNotRunnable();
warnSkip('SO_REUSEPORT group end-to-end tests', skip);

const HOLDER = `
import socket, sys
def listener(backlog, port=0):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(('127.0.0.1', port))
    s.listen(backlog)
    return s
full = listener(0)
port = full.getsockname()[1]
queued = socket.create_connection(('127.0.0.1', port))
roomy = listener(128, port)
clients = []
for _ in range(16):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(('127.0.0.1', port))
    clients.append(c)
print(port, flush=True)
sys.stdin.read()
`;

describe.skipIf(skip !== undefined)('an SO_REUSEPORT group whose second listener is full, on the real kernel', () => {
  let holder: ChildProcessWithoutNullStreams | undefined;
  let port = 0;
  /** ss's LISTEN lines for the port: Recv-Q and Send-Q of each, in the kernel's order. */
  let listeners: { queue: number; backlog: number }[] = [];

  beforeAll(async () => {
    deleteNamespace(NAME);
    execFileSync('ip', ['netns', 'add', NAME]);
    try {
      execFileSync('ip', ['netns', 'exec', NAME, 'ip', 'link', 'set', 'lo', 'up']);
      holder = spawn('ip', ['netns', 'exec', NAME, 'python3', '-c', HOLDER], { stdio: ['pipe', 'pipe', 'pipe'] });
      port = Number(
        await new Promise<string>((resolve, reject) => {
          createInterface({ input: holder!.stdout }).once('line', resolve);
          holder!.once('exit', (code) => reject(new Error(`holder exited (${code}): ${holder!.stderr.read() ?? ''}`)));
        }),
      );
      await delay(1_500); // past --half-open 1s
      const ss = execFileSync('ip', ['netns', 'exec', NAME, 'ss', '-tlnH', `sport = :${port}`], { encoding: 'utf8' });
      listeners = ss
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .map(([, queue, backlog]) => ({ queue: Number(queue), backlog: Number(backlog) }));
    } catch (error) {
      holder?.kill();
      deleteNamespace(NAME);
      throw error;
    }
  }, 20_000);

  afterAll(() => {
    holder?.stdin.end();
    holder?.kill();
    deleteNamespace(NAME);
  });

  it('as ss shows it: two listeners, the roomy one listed first, the full one second', () => {
    expect(listeners).toEqual([
      { queue: expect.any(Number), backlog: 128 },
      { queue: 1, backlog: 0 },
    ]);
  });

  // /proc/net/tcp gives a listener's queue (rx_queue) but not its backlog (tx_queue is write_seq -
  // snd_una there, 0: get_tcp4_sock): break-it pass, the full queue read as "a firewall rule".
  it('check --source procfs: the queue seen is named and its capacity said unknown, no firewall and no "peer may be down"', async () => {
    const { stdout } = await cliIn(NAME, ['check', '--no-state', '--source', 'procfs', '--half-open', '1s', '--idle', 'off']);
    const finding = stdout.split('\n').find((l) => l.startsWith(`FINDING 127.0.0.1:${port}:`));
    expect(finding, stdout).toMatch(
      /2 of its 2 listeners on this host \(SO_REUSEPORT\) hold \d+, 1 in their accept queues; this source gives no backlog, so whether they are full and drop SYNs is unknown$/,
    );
    expect(stdout).toMatch(
      /^WARNING half-open: SYN_SENT .*: the peer is one of the 2 listeners on 127\.0\.0\.1:\d+ \(SO_REUSEPORT\) on this host, accept queues holding \d+, 1; this source gives no backlog/m,
    );
    expect(stdout).not.toContain('firewall');
    expect(stdout).not.toContain('peer may be down');
  }, 30_000);

  for (const source of ['netlink', 'ss']) {
    it(`check --source ${source}: the half-open group is put on the full listener of the two, never on a silent one`, async () => {
      const { code, stdout } = await cliIn(NAME, ['check', '--no-state', '--source', source, '--half-open', '1s', '--idle', 'off']);
      const finding = stdout.split('\n').find((l) => l.startsWith(`FINDING 127.0.0.1:${port}:`));
      expect(finding, stdout).toMatch(/are half-open: 1 of its 2 listeners on this host \(SO_REUSEPORT\) has a full accept queue and drops the SYNs given to it$/);
      expect(stdout).not.toContain('does not answer');
      expect(stdout).toMatch(/^WARNING half-open: SYN_SENT .*: 1 of the 2 listeners on 127\.0\.0\.1:\d+ \(SO_REUSEPORT\) has a full accept queue/m);
      expect(code).toBe(1);
    }, 30_000);

    it(`--source ${source}: the LISTEN count is ss's, and list says the row stands for two`, async () => {
      const json = JSON.parse((await cliIn(NAME, ['check', '--no-state', '--json', '--source', source, '--half-open', '1s', '--idle', 'off'])).stdout) as { counts: Record<string, number> };
      expect(json.counts.LISTEN).toBe(listeners.length);
      const list = await cliIn(NAME, ['list', '--source', source, '--state', 'LISTEN']);
      expect(list.stdout).toMatch(new RegExp(`\\nLISTEN\\s+127\\.0\\.0\\.1:${port}\\s+0\\.0\\.0\\.0:\\*\\s+\\d+/python3 \\+1 reuseport\\s`));
      const rows = JSON.parse((await cliIn(NAME, ['list', '--json', '--source', source, '--state', 'LISTEN'])).stdout) as { local: { port: number }; reusePortListeners: number }[];
      expect(rows.find((r) => r.local.port === port)?.reusePortListeners).toBe(2);
    }, 30_000);
  }
});
