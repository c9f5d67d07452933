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
import { join } from 'node:path';
import { AF_INET, AF_INET6, sockDiagRequest } from '../src/sources/linux/parse-sock-diag.js';
import { openSockDiagChannel } from '../src/sources/linux/sock-diag-dump.js';
import { LITTLE_ENDIAN as littleEndian, captureInParkedNamespace } from './capture-in-namespace.js';

async function dumpInside(outDir: string): Promise<void> {
  const channel = openSockDiagChannel({ littleEndian });
  try {
    for (const [family, name] of [
      [AF_INET, 'inet'],
      [AF_INET6, 'inet6'],
    ] as const) {
      const datagrams: Uint8Array[] = [];
      await channel.dump({ request: sockDiagRequest({ family, withTcpInfo: true, sequence: 1, littleEndian }) }, (bytes) => datagrams.push(bytes.slice()));
      writeFileSync(join(outDir, `linux-sock-diag-${name}-park-sockets-kernel6.bin`), Buffer.concat(datagrams));
    }
  } finally {
    channel.close();
  }
  writeFileSync(join(outDir, 'linux-sock-diag-park-sockets-kernel6-ss.txt'), execFileSync('ss', ['-t', '-a', '-n', '-o', '-i', '-e'], { encoding: 'utf8' }));
}

await captureInParkedNamespace(
  import.meta.url,
  dumpInside,
  (outDir, ns) => `wrote the dumps and ss's view of ${ns.parked.length} parked sockets to ${outDir} (kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()})`,
);
