// Captures the kernel's answers to SOCK_DESTROY and to an exact lookup, for the tests of
// parse-sock-diag.ts parseNetlinkAck and socket-killer.ts:
//   npm run build && tsx scripts/capture-sock-destroy.ts [out-dir, default test/fixtures]
// Creates a network namespace (test/e2e/parked-namespace.ts), parks the sessions of
// scripts/park-sockets.py in it, reads them through the netlink source inside it, and on two of
// its CLOSE_WAIT sockets, A and B, sends (each answer written as the received datagrams, concatenated):
//   linux-sock-destroy-ack-ended-kernel6.bin         SOCK_DESTROY of A with its cookie (sequence 1)
//   linux-sock-destroy-ack-stale-cookie-kernel6.bin  SOCK_DESTROY of B with a cookie not its own (sequence 2)
//   linux-sock-diag-lookup-kernel6.bin               SOCK_DIAG_BY_FAMILY exact lookup of B without a cookie (sequence 3)
//   linux-sock-destroy-ack-gone-kernel6.bin          SOCK_DESTROY of A again, now gone (sequence 4)
//   linux-sock-destroy-kernel6.json                  A and B as read (endpoints, cookies), the stale cookie, the kernel
// Host byte order is this machine's.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodePlatform } from '../src/platform/platform.js';
import { NetlinkSource } from '../src/sources/linux/netlink.js';
import { socketIdOf, sockDestroyRequest, sockDiagLookupRequest, type SockDiagSocketId } from '../src/sources/linux/parse-sock-diag.js';
import { openSockDiagChannel } from '../src/sources/linux/sock-diag-dump.js';
import { LITTLE_ENDIAN as littleEndian, captureInParkedNamespace } from './capture-in-namespace.js';

async function captureInside(outDir: string): Promise<void> {
  const platform = nodePlatform();
  const source = new NetlinkSource();
  const rows = (await source.read(platform, { procRoot: '/proc' })).rows.filter((r) => r.state === 'CLOSE_WAIT' && r.protocol === 'tcp');
  source.close();
  const [a, b] = rows;
  if (!a || !b) throw new Error(`two IPv4 CLOSE_WAIT sockets expected, ${rows.length} found`);
  const idOf = (row: typeof a): SockDiagSocketId => {
    const id = socketIdOf(row);
    if (typeof id === 'string') throw new Error(id);
    return id;
  };
  const staleCookie = (BigInt(`0x${b.cookie}`) + 0x100000n).toString(16);
  const channel = openSockDiagChannel({ littleEndian });
  const write = async (name: string, request: Uint8Array) => writeFileSync(join(outDir, name), Buffer.concat(await channel.exchange(request)));
  try {
    await write('linux-sock-destroy-ack-ended-kernel6.bin', sockDestroyRequest({ id: idOf(a), sequence: 1, littleEndian }));
    await write('linux-sock-destroy-ack-stale-cookie-kernel6.bin', sockDestroyRequest({ id: idOf({ ...b, cookie: staleCookie }), sequence: 2, littleEndian }));
    await write('linux-sock-diag-lookup-kernel6.bin', sockDiagLookupRequest({ id: { ...idOf(b), cookie: undefined }, sequence: 3, littleEndian }));
    await write('linux-sock-destroy-ack-gone-kernel6.bin', sockDestroyRequest({ id: idOf(a), sequence: 4, littleEndian }));
  } finally {
    channel.close();
  }
  const named = (row: typeof a) => ({ local: row.local, remote: row.remote, cookie: row.cookie });
  const facts = { a: named(a), b: named(b), staleCookie, kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim() };
  writeFileSync(join(outDir, 'linux-sock-destroy-kernel6.json'), `${JSON.stringify(facts, null, 2)}\n`);
}

await captureInParkedNamespace(import.meta.url, captureInside, (outDir) => `wrote the kernel's answers to SOCK_DESTROY and a lookup to ${outDir}`);
