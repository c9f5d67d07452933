import { canDrawFullScreen, type CliContext } from './context.js';
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
    // Each command's modules are loaded when it runs: a long-running serve or watch does not keep
    // the state-file codec and its schema library (zod) in memory, nor does cron's check load blessed.
    switch (parsed.command) {
      case 'exit':
        context.stdout.write(parsed.output);
        return parsed.exitCode;
      case 'list':
        return await (await import('./commands/list.js')).runList(parsed.options, context);
      case 'check':
        return await (await import('./commands/check.js')).runCheck(parsed.options, context);
      case 'explain':
        return await (await import('./commands/explain.js')).runExplain(parsed.options, context);
      case 'reset':
        return await (await import('./commands/reset.js')).runReset(parsed.options, context);
      case 'sources':
        return await (await import('./commands/sources.js')).runSources(parsed.options, context);
      case 'watch':
        return await (await import('./commands/watch.js')).runWatch(parsed.options, context);
      case 'serve':
        return await (await import('./commands/serve.js')).runServe(parsed.options, context);
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
