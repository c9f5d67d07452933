// Captures NETLINK_SOCK_DIAG dumps of real parked sockets for the parser's tests:
//   npm run build && tsx scripts/capture-sock-diag.ts [out-dir, default test/fixtures]
// Creates a network namespace (test/e2e/parked-namespace.ts), parks the sessions of
// scripts/park-sockets.py in it, then, inside it, writes
//   linux-sock-diag-inet-park-sockets-kernel6.bin   the AF_INET dump's datagrams, concatenated
//   linux-sock-diag-inet6-park-sockets-kernel6.bin  the AF_INET6 dump's
//   linux-sock-diag-park-sockets-kernel6-ss.txt     `ss -t -a -n -o -i -e` of the same sockets, right after
// Datagrams hold whole, 4-byte aligned netlink messages, so the concatenation parses as one stream.
// The dumps ask for tcp_info (INET_DIAG_INFO) for every state; host byte order is this machine's.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AF_INET, AF_INET6, sockDiagRequest } from '../src/sources/linux/parse-sock-diag.js';
import { openSockDiagChannel } from '../src/sources/linux/sock-diag-dump.js';
import { ParkedNamespace } from '../test/e2e/parked-namespace.js';

const here = fileURLToPath(import.meta.url);
const root = resolve(here, '../..');
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

async function dumpInside(outDir: string): Promise<void> {
  const channel = openSockDiagChannel({ littleEndian });
  try {
    for (const [family, name] of [
      [AF_INET, 'inet'],
      [AF_INET6, 'inet6'],
    ] as const) {
      const datagrams: Uint8Array[] = [];
      await channel.dump({ request: sockDiagRequest({ family, withTcpInfo: true, sequence: 1, littleEndian }) }, (bytes) => datagrams.push(bytes));
      writeFileSync(join(outDir, `linux-sock-diag-${name}-park-sockets-kernel6.bin`), Buffer.concat(datagrams));
    }
  } finally {
    channel.close();
  }
  writeFileSync(join(outDir, 'linux-sock-diag-park-sockets-kernel6-ss.txt'), execFileSync('ss', ['-t', '-a', '-n', '-o', '-i', '-e'], { encoding: 'utf8' }));
}

const args = process.argv.slice(2);
if (args[0] === '--inside') {
  await dumpInside(resolve(args[1] ?? join(root, 'test/fixtures')));
} else {
  const outDir = resolve(args[0] ?? join(root, 'test/fixtures'));
  const ns = new ParkedNamespace();
  try {
    await ns.start();
    ns.exec([process.execPath, '--import', 'tsx', here, '--inside', outDir]);
    console.log(`wrote the dumps and ss's view of ${ns.parked.length} parked sockets to ${outDir} (kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()})`);
  } finally {
    ns.stop();
  }
}
