import { describe, expect, it } from 'vitest';
import { detectInputFormat, parseCapture } from '../../src/sources/captured-table.js';
import { unwrapPastedTable } from '../../src/sources/pasted-text.js';
import { parseSs } from '../../src/sources/linux/parse-ss.js';
import { UnusableInputError } from '../../src/sources/unusable-input.js';
import { readFixture } from '../fixture.js';

// Written for the test: issue 12 item 6's `ss -ant` table, two lines as ss prints them.
const SS_ANT = ['State      Recv-Q Send-Q Local Address:Port    Peer Address:Port', 'SYN-SENT   0      1      192.0.2.10:46460      198.51.100.7:8080'];

describe('unwrapPastedTable', () => {
  it("issue 12 item 6: a Markdown code block (4 spaces) is ss's own text again, and gives the SYN_SENT row", () => {
    const pasted = SS_ANT.map((l) => `    ${l}`).join('\n');
    // Read as it came, every line is a tcp_info continuation: no row at all.
    expect(parseSs(pasted).rows).toEqual([]);
    const unwrapped = unwrapPastedTable(pasted);
    expect(unwrapped).toBe(SS_ANT.join('\n'));
    expect(detectInputFormat(unwrapped)).toBe('ss');
    expect(parseSs(unwrapped).rows.map((r) => [r.state, r.local.port, r.remote.address])).toEqual([['SYN_SENT', 46460, '198.51.100.7']]);
  });

  it('each shape: tab, `> `, nested `> > `, `>` on blank quote lines, a fence, a prompt first, CRLF', () => {
    const plain = SS_ANT.join('\n');
    expect(unwrapPastedTable(SS_ANT.map((l) => `\t${l}`).join('\n'))).toBe(plain);
    expect(unwrapPastedTable(SS_ANT.map((l) => `> ${l}`).join('\n'))).toBe(plain);
    expect(unwrapPastedTable(['> > ' + SS_ANT[0], '> >', '> > ' + SS_ANT[1]].join('\n'))).toBe([SS_ANT[0], '', SS_ANT[1]].join('\n'));
    expect(unwrapPastedTable(['```text', ...SS_ANT, '```'].join('\n'))).toBe(['', ...SS_ANT, ''].join('\n'));
    expect(unwrapPastedTable(['$ ss -ant', ...SS_ANT.map((l) => `    ${l}`)].join('\n'))).toBe(['', ...SS_ANT].join('\n'));
    expect(unwrapPastedTable(SS_ANT.map((l) => `    ${l}`).join('\r\n'))).toBe(plain);
    // A quote around a fenced, indented block with a root prompt: all of it.
    expect(unwrapPastedTable(['> ```', '> [root@web1 ~]# ss -ant', ...SS_ANT.map((l) => `>     ${l}`), '> ```'].join('\n'))).toBe(['', '', ...SS_ANT, ''].join('\n'));
  });

  it('prompts of every shell: removed only as the first line, never our `# captured at` line or Export-Csv `#TYPE`', () => {
    for (const prompt of [
      '$ ss -tan',
      'user@host:~$ ss -tan',
      '[root@host ~]# cat /proc/net/tcp',
      'host% netstat -an',
      'PS C:\\Users\\x> Get-NetTCPConnection | ConvertTo-Json',
      'C:\\Windows\\system32>netstat -ano',
    ]) {
      expect(unwrapPastedTable(`${prompt}\n${SS_ANT.join('\n')}`)).toBe(`\n${SS_ANT.join('\n')}`);
    }
    expect(unwrapPastedTable('# captured at 2026-11-21T05:29:18Z\nState Recv-Q')).toBe('# captured at 2026-11-21T05:29:18Z\nState Recv-Q');
    expect(unwrapPastedTable('#TYPE Selected.CimInstance\n"LocalAddress","LocalPort"')).toBe('#TYPE Selected.CimInstance\n"LocalAddress","LocalPort"');
  });

  it('keeps what is meaningful: ss -i continuation lines stay under their socket, Windows rows keep their place', () => {
    const ss = readFixture('linux-ss-tanoi-stuck-states-kernel6.txt').replace(/\n$/, '');
    const indented = ss
      .split('\n')
      .map((l) => (l === '' ? l : `    ${l}`))
      .join('\n');
    // Lines of blanks alone come back empty: they hold nothing in any format.
    expect(unwrapPastedTable(indented)).toBe(ss.replace(/^[ \t]+$/gm, ''));
    expect(parseSs(unwrapPastedTable(indented))).toEqual(parseSs(ss));
    // Text that is no paste comes back as it was.
    const windows = readFixture('win-netstat-an-es-MX-miguehm-redes.txt').replace(/\r\n/g, '\n');
    expect(unwrapPastedTable(windows)).toBe(windows);
  });
});

describe('parseCapture fails closed', () => {
  const parse = (text: string, format: Parameters<typeof parseCapture>[1]) => parseCapture(text, format, 0, 'x');

  it('the header and no rows is an empty table, for every format that prints one (written for the test, in each tool’s header shape)', () => {
    expect(parse('State      Recv-Q Send-Q Local Address:Port    Peer Address:Port\n', 'ss').rows).toEqual([]);
    expect(parse('Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n', 'ss').rows).toEqual([]);
    const procHeader = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
    expect(parse(`${procHeader}\n${procHeader}\n`, 'procfs')).toMatchObject({ rows: [], completeProtocols: ['tcp', 'tcp6'] });
    expect(parse(`${procHeader}\n`, 'procfs')).toMatchObject({ rows: [], completeProtocols: [] });
    expect(parse('Active Internet connections (servers and established)\nProto Recv-Q Send-Q Local Address           Foreign Address         State\n', 'linux-netstat').rows).toEqual([]);
    expect(parse('Proto  Recib Enviad Dirección local         Dirección remota       Estado\n', 'linux-netstat').rows).toEqual([]);
    expect(parse('Active Internet connections (including servers)\nProto Recv-Q Send-Q  Local Address          Foreign Address        (state)\n', 'macos-netstat').rows).toEqual([]);
    expect(parse('[]\n', 'powershell').rows).toEqual([]);
    expect(parse('#TYPE Selected.Microsoft.Management.Infrastructure.CimInstance\n"LocalAddress","LocalPort","RemoteAddress","RemotePort","State","OwningProcess"\n', 'powershell').rows).toEqual([]);
  });

  it('conntrack -L: its trailer counting 0 entries is an empty table; counting entries the text does not hold is unread', () => {
    // Written for the test: conntrack-tools' own trailer line, alone.
    expect(parse('conntrack v1.4.6 (conntrack-tools): 0 flow entries have been shown.\n', 'conntrack').rows).toEqual([]);
    expect(() => parse('conntrack v1.4.6 (conntrack-tools): 3 flow entries have been shown.\n', 'conntrack')).toThrow(
      /no row could be read: line 1: conntrack says 3 flow entries were shown, but the text holds 0/,
    );
  });

  it('text with lines but no row and no header is unusable in every format, forced or detected', () => {
    const prose = 'Dear support,\n    our server is slow since Monday.\n';
    for (const format of ['procfs', 'ss', 'linux-netstat', 'windows-netstat', 'macos-netstat', 'conntrack'] as const) {
      expect(() => parse(prose, format), format).toThrow(UnusableInputError);
    }
    expect(() => parse('{}', 'powershell')).toThrow(UnusableInputError);
    // Lines that only look like ss -i continuations (an indented table the unwrap did not see).
    expect(() => parse('\t cubic wscale:7,7 rto:204\n\t bbr rto:201\n', 'ss')).toThrow('no ss row and no ss header');
    // Windows netstat prints a translated header, so its header alone proves nothing.
    expect(() => parse('\nActive Connections\n\n  Proto  Local Address          Foreign Address        State\n', 'windows-netstat')).toThrow(UnusableInputError);
  });

  it('a header over rows that are all malformed is not an empty table', () => {
    const text = 'State      Recv-Q Send-Q Local Address:Port    Peer Address:Port\nESTAB      x      0      10.0.0.1:22           10.0.0.2:50000\n';
    expect(() => parse(text, 'ss')).toThrow('no row could be read: 1 malformed (first: line 2: bad queue columns "x 0")');
  });
});
