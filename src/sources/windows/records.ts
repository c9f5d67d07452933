import type { SocketSource } from '../source.js';
import { TcpState } from '../../core/tcp-state.js';
import { probeRuns } from '../probe.js';
import { defineSource } from '../source-record.js';
import { WindowsNetstatSource } from './netstat.js';
import { getNetTcpConnectionNotices, looksLikeGetNetTcpConnection, parseGetNetTcpConnection } from './parse-get-nettcpconnection.js';
import { parseWindowsNetstat } from './parse-netstat-windows.js';
import { PowerShellSource } from './powershell.js';

// The Windows sources' registry records (registry.ts lists them). Windows has no /proc/sys: no host facts.

export const netstatRecord = defineSource({
  name: 'netstat',
  vocabulary: 'windows-netstat',
  live: {
    os: 'win32',
    // Alone, no creation times: auto's instance adds Get-NetTCPConnection's (see `auto`).
    capabilities: { owners: 'in-rows', hostFacts: false, activity: false, firstSight: [] },
    summary: {
      platforms: 'Windows (netstat -ano, any language)',
      owners: 'PID column + tasklist',
      activity: 'no',
      firstSightDwell: 'with PowerShell: SYN_SENT, SYN_RECEIVED, LISTEN (CreationTime)',
    },
    docs: {
      title: '`netstat` (Windows)',
      reads: '`netstat -a -n -o`, bytes decoded from the console code page (`chcp`, asked once)',
      pid: 'PID column; names from `tasklist /fo csv /nh`, called only while a pid is unnamed',
      activity: 'no',
      firstSight: 'with PowerShell: SYN_SENT, SYN_RECEIVED, LISTEN',
    },
    probe: (platform) => probeRuns(platform, ['netstat', '-n', '-p', 'TCP'], 'netstat.exe did not run'),
    create: (): SocketSource => new WindowsNetstatSource(),
    // Enriched with Get-NetTCPConnection's creation times where PowerShell answers.
    auto: { rank: 10, create: (): SocketSource => new WindowsNetstatSource({ enrichWithPowerShell: true }) },
    nothingReadHint: 'netstat printed no table',
  },
  input: {
    format: 'windows-netstat',
    choiceRank: 4,
    detect: /^\s+(TCP|UDP)(v6)?\s+\S+\s+\S+/,
    detectRank: 30,
    // Its header is translated (CJK too): an empty capture proves nothing.
    needsTableLine: true,
    parse: (body) => parseWindowsNetstat(body),
  },
});

export const powershellRecord = defineSource({
  name: 'powershell',
  vocabulary: 'mib',
  live: {
    os: 'win32',
    capabilities: { owners: 'in-rows', hostFacts: false, activity: false, firstSight: [TcpState.SYN_SENT, TcpState.SYN_RECEIVED, TcpState.LISTEN] },
    summary: {
      platforms: 'Windows (Get-NetTCPConnection)',
      owners: 'OwningProcess + tasklist',
      activity: 'no',
      firstSightDwell: 'SYN_SENT, SYN_RECEIVED, LISTEN (CreationTime)',
    },
    docs: {
      title: '`powershell` (Windows)',
      reads: '`Get-NetTCPConnection` through **one** long-lived `powershell.exe` asked each poll (start-up paid once); numeric State enum, CreationTime in UTC ISO',
      pid: 'OwningProcess + tasklist',
      activity: 'no',
      firstSight: 'SYN_SENT, SYN_RECEIVED, LISTEN',
    },
    probe: (platform) => probeRuns(platform, ['powershell.exe', '-NoLogo', '-NoProfile', '-NonInteractive', '-Command', 'exit 0'], 'powershell.exe did not run'),
    create: (): SocketSource => new PowerShellSource(),
    nothingReadHint: 'Get-NetTCPConnection answered nothing',
  },
  input: {
    format: 'powershell',
    choiceRank: 5,
    // JSON, CSV, the table view or Format-List: LocalAddress is no other tool's word.
    detectWhole: looksLikeGetNetTcpConnection,
    detectRank: 0,
    emptyTableHeader: /^\s*\[\s*\]\s*$|(^|,)"?LocalAddress"?(,|$)/,
    parse: (body, { takenAtMs, label }) => {
      const parsed = parseGetNetTcpConnection(body, { takenAtMs });
      return { rows: parsed.rows, problems: parsed.problems, notices: getNetTcpConnectionNotices(parsed, label) };
    },
  },
});
