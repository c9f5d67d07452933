import { errorCode, type Platform } from '../../platform/platform.js';
import { unknownStateNotices } from '../unknown-states.js';
import { decodeText, parseCodePage } from '../decode-text.js';
import { SourceError, SourceUnavailableError, summarizeProblems, type SocketSource, type SourceReading } from '../source.js';
import { UnusableInputError } from '../unusable-input.js';
import { parseWindowsNetstat } from './parse-netstat-windows.js';
import { ProcessNames } from './process-names.js';
import { PowerShellSource, mergeCreationTimes } from './powershell.js';
import { appendAll } from '../../core/lists.js';

// Windows netstat.exe: fast and everywhere, but localized. Its bytes are in the console's OEM code
// page (asked once with `chcp`). With enrichment (auto), Get-NetTCPConnection adds creation times
// and the untranslated state of any row whose word is unknown.

// One call for both families (`-p TCP` would need a second for TCPv6); UDP rows are skipped.
export const NETSTAT_ARGV = ['netstat', '-a', '-n', '-o'] as const;
export const CHCP_ARGV = ['cmd', '/d', '/c', 'chcp'] as const;

export class WindowsNetstatSource implements SocketSource {
  readonly name = 'netstat' as const;
  private codePage: Promise<number | undefined> | undefined;
  private readonly names = new ProcessNames();
  private enrichment: PowerShellSource | undefined;
  private enrichmentNotice: string | undefined;

  constructor(options: { enrichWithPowerShell: boolean } = { enrichWithPowerShell: false }) {
    if (options.enrichWithPowerShell) this.enrichment = new PowerShellSource();
  }

  async read(platform: Platform): Promise<SourceReading> {
    this.codePage ??= platform
      .run(CHCP_ARGV)
      .then((r) => parseCodePage(r.stdout))
      .catch(() => undefined);
    const codePage = await this.codePage;
    const notices: string[] = [];
    let result;
    try {
      result = await platform.runBinary(NETSTAT_ARGV, { timeoutMs: 30_000 });
    } catch (error) {
      if (errorCode(error) === 'ENOENT') throw new SourceUnavailableError('netstat.exe is not available', { cause: error });
      throw new SourceError(`netstat failed: ${(error as Error).message}`);
    }
    if (result.exitCode !== 0) throw new SourceError(`netstat failed: ${result.stderr.trim() || `exit code ${result.exitCode}`}`);
    let parsed;
    const text = decodeText(result.stdout, codePage).text;
    try {
      parsed = parseWindowsNetstat(text);
    } catch (error) {
      if (error instanceof UnusableInputError) throw new SourceError(`netstat: ${error.message}`, { cause: error });
      throw error;
    }
    appendAll(notices, summarizeProblems('netstat', parsed.problems));
    let enriched = await this.names.name(platform, parsed.rows, codePage);
    if (this.enrichment) {
      try {
        const extra = await this.enrichment.read(platform);
        enriched = mergeCreationTimes(enriched, extra.rows);
      } catch (error) {
        // Enrichment is optional: say why once, then stop asking.
        this.enrichment.close();
        this.enrichment = undefined;
        this.enrichmentNotice = `Get-NetTCPConnection is not usable (${(error as Error).message}); netstat alone gives no creation times, so SYN_SENT dwell starts at first sight`;
      }
    }
    if (this.enrichmentNotice) {
      notices.push(this.enrichmentNotice);
      this.enrichmentNotice = undefined;
    }
    appendAll(notices, unknownStateNotices(enriched, 'windows-netstat', 'netstat'));
    // The parser throws on text without a TCP or UDP row, so text it took, with no bad line, is a
    // table read in full (UDP rows only); empty output is netstat saying nothing.
    const emptyTableProven = text.trim() !== '' && parsed.problems.length === 0;
    if (this.names.unread) notices.push('tasklist failed: some process names are not known (a rule on process names is not judged)');
    return { source: 'netstat', rows: enriched, completeProtocols: ['tcp', 'tcp6'], notices, emptyTableProven, ...(this.names.unread ? { ownersHidden: true } : {}) };
  }

  close(): void {
    this.enrichment?.close();
  }
}
