import { formatColumns } from '../../output/table.js';
import { SOURCE_CATALOG, autoChoice, probeSource, type Availability } from '../../sources/source-catalog.js';
import type { LiveSourceName } from '../../sources/select-source.js';
import type { CliContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import type { CommonOptions } from '../parse-command-line.js';

/** `tcpdwell sources`: each source, whether it works here, and what it can tell. */
export async function runSources(options: Pick<CommonOptions, 'procRoot' | 'json'>, context: CliContext): Promise<number> {
  const available = new Map<LiveSourceName, Availability>();
  for (const source of SOURCE_CATALOG) available.set(source.name, await probeSource(source.name, context.platform, { procRoot: options.procRoot }));
  const auto = autoChoice(context.platform, options.procRoot, available);
  if (options.json) {
    const report = SOURCE_CATALOG.map((s) => ({ ...s, available: available.get(s.name)!.available, reason: available.get(s.name)!.reason ?? null, auto: s.name === auto }));
    context.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return ExitCode.OK;
  }
  const rows = SOURCE_CATALOG.map((s) => {
    const here = available.get(s.name)!;
    return [s.name + (s.name === auto ? ' (auto)' : ''), here.available ? 'yes' : 'no', s.owners, s.activity, s.firstSightDwell];
  });
  context.stdout.write(
    formatColumns(['SOURCE', 'HERE', 'OWNERS', 'ACTIVITY (IDLE)', 'DWELL AT FIRST SIGHT'], rows, (i) => {
      const source = SOURCE_CATALOG[i]!;
      const reason = available.get(source.name)!.reason;
      return `    ${source.platforms}${reason ? `; ${reason}` : ''}`;
    }),
  );
  context.stdout.write(auto ? `\n--source auto uses ${auto} here.\n` : '\n--source auto finds no usable source here.\n');
  return ExitCode.OK;
}
