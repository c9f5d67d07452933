import { canDrawFullScreen, type CliContext } from './context.js';
import { runCheck } from './commands/check.js';
import { runExplain } from './commands/explain.js';
import { runReset } from './commands/reset.js';
import { runList } from './commands/list.js';
import { runServe } from './commands/serve.js';
import { runSources } from './commands/sources.js';
import { runWatch } from './commands/watch.js';
import { withReadLimit } from '../platform/platform.js';
import { ExitCode, exitCodeForError } from './exit-codes.js';
import { parseCommandLine, withDefaultCommand } from './parse-command-line.js';
import { sanitizeLine, sanitizeNagiosText } from '../output/sanitize.js';

/** argv → exit code. Every failure becomes one line on stderr and one documented exit code. */
export async function runCli(argv: readonly string[], cliContext: CliContext, version: string): Promise<number> {
  let context = cliContext;
  try {
    const parsed = parseCommandLine(withDefaultCommand(argv, context.terminal !== undefined && canDrawFullScreen(context.env)), version);
    // --read-limit: every file read and command run of this command is capped there.
    if (parsed.command !== 'exit' && 'readLimitBytes' in parsed.options && parsed.options.readLimitBytes !== undefined) {
      context = { ...context, platform: withReadLimit(context.platform, parsed.options.readLimitBytes) };
    }
    switch (parsed.command) {
      case 'exit':
        context.stdout.write(parsed.output);
        return parsed.exitCode;
      case 'list':
        return await runList(parsed.options, context);
      case 'check':
        return await runCheck(parsed.options, context);
      case 'explain':
        return await runExplain(parsed.options, context);
      case 'reset':
        return await runReset(parsed.options, context);
      case 'sources':
        return await runSources(parsed.options, context);
      case 'watch':
        return await runWatch(parsed.options, context);
      case 'serve':
        return await runServe(parsed.options, context);
      case 'dashboard':
        // Loaded only here: blessed and its charts cost start-up time every cron `check` would pay.
        return await (await import('./commands/dashboard.js')).runDashboardCommand(parsed.options, context);
    }
  } catch (error) {
    const code = exitCodeForError(error);
    // Messages quote file names, config values and captured text: sanitised, so one line each.
    const message = error instanceof Error ? error.message : String(error);
    if (wantsNagios(argv)) {
      // A Nagios plugin has four exit codes and reports on stdout: any failure is UNKNOWN.
      context.stdout.write(`TCPDWELL UNKNOWN - ${sanitizeNagiosText(message)}\n`);
      return ExitCode.UNKNOWN;
    }
    context.stderr.write(`tcpdwell: ${sanitizeLine(message)}\n`);
    if (code === ExitCode.SOFTWARE) {
      if (context.env.TCPDWELL_DEBUG) context.stderr.write(`${(error as Error).stack ?? ''}\n`);
      else context.stderr.write('tcpdwell: this is a bug; run again with TCPDWELL_DEBUG=1 for the stack trace and report it\n');
    }
    return code;
  }
}

/** `--format nagios` anywhere on the line, even one that failed to parse. */
function wantsNagios(argv: readonly string[]): boolean {
  return argv.some((arg, i) => arg === '--format=nagios' || (arg === '--format' && argv[i + 1] === 'nagios'));
}
