import { formatSourcesJson, formatSourcesText } from '../../output/sources.js';
import { LIVE_SOURCES, autoChoice, probeSource, type LiveSourceName } from '../../sources/registry.js';
import { notProcRootNotice, notProcRootOf } from '../../sources/select-source.js';
import type { Availability } from '../../sources/source-record.js';
import { noticeReporter, type CliContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import type { CommonOptions } from '../parse-command-line.js';

/** `tcpdwell sources`: each source of the registry, whether it works here, and what it can tell. */
export async function runSources(options: Pick<CommonOptions, 'procRoot' | 'json'>, context: CliContext): Promise<number> {
  const available = new Map<LiveSourceName, Availability>();
  for (const record of LIVE_SOURCES) available.set(record.name, await probeSource(record.name, context.platform, { procRoot: options.procRoot }));
  const auto = autoChoice(context.platform.os, options.procRoot, available);
  const entries = LIVE_SOURCES.map((record) => ({ record, availability: available.get(record.name)! }));
  // What every other command says of such a root: the sources here would find no owner under it.
  const notProcRoot = await notProcRootOf(context.platform, options.procRoot);
  if (notProcRoot) noticeReporter(context)(notProcRootNotice(notProcRoot));
  context.stdout.write(options.json ? formatSourcesJson(entries, auto) : formatSourcesText(entries, auto));
  return ExitCode.OK;
}
