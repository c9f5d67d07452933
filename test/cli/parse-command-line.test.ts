import { describe, expect, it } from 'vitest';
import { UsageError, parseCommandLine, parseStateWord, withDefaultCommand } from '../../src/cli/parse-command-line.js';

describe('parseCommandLine', () => {
  it('defaults to list with the auto source and no overrides', () => {
    expect(parseCommandLine([])).toEqual({
      command: 'list',
      options: { source: 'auto', procRoot: '/proc', warning: {}, critical: {}, json: false, selection: { flaggedOnly: false }, why: false },
    });
  });

  it('reads the threshold flags and their Cisco aliases', () => {
    const parsed = parseCommandLine(['check', '--synwait', '10s', '--finwait', '1m', '--idle', '30m', '--critical-idle', '2h', '--preset', 'asa']);
    expect(parsed).toMatchObject({
      command: 'check',
      options: { preset: 'asa', warning: { halfOpenMs: 10_000, halfCloseMs: 60_000, idleMs: 1_800_000 }, critical: { idleMs: 7_200_000 }, useStateFile: true, intervalMs: 2000 },
    });
    expect(parseCommandLine(['check', '--half-open', '45', '--half-close', '0:10:00'])).toMatchObject({ options: { warning: { halfOpenMs: 45_000, halfCloseMs: 600_000 } } });
  });

  it('reads list filters in any state spelling, ports and ranges, --watch with and without a value', () => {
    const parsed = parseCommandLine(['list', '--state', 'close-wait,ESTAB', '--state', 'SYN_RECV', '--port', '5432,6000-6010', '--pid', '1,2', '--process', 'java', '--flagged', '--json', '--watch']);
    expect(parsed).toMatchObject({
      command: 'list',
      options: {
        selection: {
          states: ['CLOSE_WAIT', 'ESTABLISHED', 'SYN_RECEIVED'],
          ports: [
            { from: 5432, to: 5432 },
            { from: 6000, to: 6010 },
          ],
          pids: [1, 2],
          processes: ['java'],
          flaggedOnly: true,
        },
        json: true,
        watchMs: 2000,
      },
    });
    expect(parseCommandLine(['list', '--watch', '500ms', '--iterations', '3'])).toMatchObject({ options: { watchMs: 500, iterations: 3 } });
  });

  it('reads check --no-state, --state-file, --window', () => {
    expect(parseCommandLine(['check', '--no-state'])).toMatchObject({ options: { useStateFile: false } });
    expect(parseCommandLine(['check', '--state-file', '/tmp/x.json', '--window', '30s', '--interval', '5s'])).toMatchObject({
      options: { stateFilePath: '/tmp/x.json', windowMs: 30_000, intervalMs: 5000 },
    });
  });

  it.each([
    [['check', '--idle', 'soon'], /option '--idle <duration>' argument 'soon' is invalid.*use seconds/],
    [['list', '--source', 'ebpf'], /argument 'ebpf' is invalid. Allowed choices are auto, ss, procfs/],
    [['list', '--state', 'HALF_DEAD'], /unknown state "HALF_DEAD"/],
    [['list', '--port', '99999'], /invalid port "99999"/],
    [['list', '--watch', '0s'], /must be more than 0/],
    // Every option a timer waits for: past 2^31 - 1 ms setTimeout fires after 1 ms (a poll loop).
    [['list', '--watch', '25d'], /--watch.*duration "25d" is too long: a wait can be at most 24 days/],
    [['list', '--watch', '2147484s'], /--watch.*too long/],
    [['watch', '--interval', '25d'], /--interval <duration>.*too long/],
    [['serve', '--interval', '25d'], /--interval <duration>.*too long/],
    [['dashboard', '--interval', '25d'], /--interval <duration>.*too long/],
    [['check', '--window', '1m', '--interval', '25d'], /--interval <duration>.*too long/],
    [['check', '--window', '25d'], /--window <duration>.*too long/],
    [['list', '--read-limit', '600M'], /--read-limit <size>.*must be from 1K to 500 MiB/],
    [['list', '--read-limit', '10'], /--read-limit <size>.*must be from 1K/],
    [['list', '--read-limit', 'big'], /--read-limit <size>.*invalid size "big"/],
    [['check', '--bogus'], /unknown option '--bogus'/],
    // A near miss gets the nearest command; a word near none gets the list.
    [['chekc'], /^unknown command 'chekc' \(did you mean check\?\)$/],
    [['frobnicate'], /^unknown command 'frobnicate' \(commands: list, check, explain, reset, sources, watch, serve, dashboard\)$/],
    [['reset', '--kind', 'stuck'], /unknown kind "stuck" \(one of half-open, half-close, idle\)/],
    [['reset', '--local', 'db.example:5432x'], /invalid address "db.example:5432x"/],
    [['explain', 'nonsense'], /^cannot explain "nonsense": give a state/],
    [['check', '--preset', 'cisco'], /Allowed choices are ios, asa, conntrack/],
    // Contradictions: one option under two names with different values…
    [['list', '--half-open', '5s', '--synwait', '50s'], /^--half-open 5s and --synwait 50s disagree \(one option under two names\): give one of them$/],
    [['check', '--finwait=1m', '--half-close', '2m'], /^--finwait 1m and --half-close 2m disagree/],
    // …one option given twice where only one value counts (every single-value option)…
    [['list', '--half-open', '5s', '--half-open', '6s'], /^--half-open given twice with different values \(5s, 6s\): give it once$/],
    [['list', '--source', 'ss', '--source=procfs'], /^--source given twice/],
    [['list', '--local', '10.0.0.1', '--local', '10.0.0.2'], /^--local given twice/],
    [['list', '--watch', '--watch', '3s'], /^--watch given twice with different values \(\(no value\), 3s\)/],
    [['watch', '--interval', '1s', '--interval', '2s'], /^--interval given twice/],
    [['watch', '--log', '/a', '--log', '/b'], /^--log given twice/],
    [['serve', '--listen', ':9000', '--listen', ':9001'], /^--listen given twice/],
    [['check', '--format', 'json', '--format', 'nagios'], /^--format given twice/],
    [['check', '--critical-idle', '2h', '--critical-idle', '3h'], /^--critical-idle given twice/],
    [['reset', '--state', 'CLOSE_WAIT', '--count', '2', '--count', '3'], /^--count given twice/],
    [['list', '--config', '/a', '--config', '/b'], /^--config given twice/],
    [['list', '--preset', 'ios', '--preset', 'asa'], /^--preset given twice/],
    // …and flags that mean nothing beside another.
    [['check', '--json', '--format', 'text'], /^--json and --format nagios\/text disagree/],
    [['check', '--no-state', '--state-file', '/tmp/x'], /^--no-state and --state-file disagree/],
    [['check', '--all', '--format', 'json'], /^--all is for text output/],
    [['check', '--interval', '5s'], /^--interval needs --window/],
    [['list', '--iterations', '2'], /^--iterations needs --watch/],
    [['serve', '--json'], /^--json means nothing to serve/],
    [['dashboard', '--json'], /^--json means nothing to dashboard/],
    // Empty filter values: dropping them left a filter that matched nothing (an empty table, rc 0;
    // reset's "no session matches"), or a narrower one than asked.
    [['list', '--state', ''], /^option '--state <states>' argument '' is invalid\. no value given/],
    [['list', '--port', ','], /^option '--port <ports>' argument ',' is invalid\. an empty item between commas/],
    [['list', '--port', '80,'], /argument '80,' is invalid\. an empty item between commas/],
    [['list', '--process', ''], /^option '--process <names>' argument '' is invalid\. no value given/],
    [['list', '--process', ' '], /argument ' ' is invalid\. no value given/],
    [['list', '--kind', ''], /^option '--kind <kinds>' argument '' is invalid\. no value given/],
    [['list', '--pid', ','], /argument ',' is invalid\. an empty item/],
    [['reset', '--state', ''], /^option '--state <states>' argument '' is invalid\. no value given/],
    [['reset', '--port', ' , '], /argument ' , ' is invalid\. an empty item/],
    [['reset', '--process', '', '--state', 'CLOSE_WAIT'], /argument '' is invalid\. no value given/],
    [['reset', '--kind', ''], /argument '' is invalid\. no value given/],
    [['check', '--reset', ''], /argument '' is invalid\. no value given/],
    // Empty paths (break-it pass, session 11): --state-file '' was the current directory (exit 3,
    // "is a directory"), --proc-root '' read //net/tcp, --at '' spoke of an empty filter.
    [['check', '--state-file', ''], /^option '--state-file <path>' argument '' is invalid\. no path given/],
    [['explain', 'CLOSE_WAIT', '--state-file', ''], /argument '' is invalid\. no path given/],
    [['list', '--proc-root', ''], /^option '--proc-root <path>' argument '' is invalid\. no path given/],
    [['sources', '--proc-root', ''], /argument '' is invalid\. no path given/],
    [['check', '--config', ''], /^option '--config <file>' argument '' is invalid\. no path given/],
    [['watch', '--log', ''], /^option '--log <file>' argument '' is invalid\. no path given/],
    [['list', '--watch', '2s', '--log', ''], /argument '' is invalid\. no path given/],
    [['check', '--input', 'a.txt', '--at', ''], /^option '--at <times>' argument '' is invalid\. no time given/],
  ])('rejects %j with one line', (argv, message) => {
    let error: unknown;
    try {
      parseCommandLine(argv);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('takes an option given twice with the same value, a list option given twice, and an alias that agrees', () => {
    expect(parseCommandLine(['list', '--half-open', '5s', '--synwait', '5000ms'])).toMatchObject({ options: { warning: { halfOpenMs: 5000 } } });
    expect(parseCommandLine(['list', '--source', 'ss', '--source', 'ss'])).toMatchObject({ options: { source: 'ss' } });
    expect(parseCommandLine(['list', '--state', 'LISTEN', '--state', 'ESTABLISHED'])).toMatchObject({ options: { selection: { states: ['LISTEN', 'ESTABLISHED'] } } });
    expect(parseCommandLine(['list', '--port', '22', '--port', '443'])).toMatchObject({
      options: {
        selection: {
          ports: [
            { from: 22, to: 22 },
            { from: 443, to: 443 },
          ],
        },
      },
    });
  });

  it('accepts a wait of exactly 2^31 - 1 ms, the longest a timer takes', () => {
    expect(parseCommandLine(['watch', '--interval', '2147483647ms'])).toMatchObject({ options: { intervalMs: 2_147_483_647 } });
    expect(parseCommandLine(['list', '--watch', '24d'])).toMatchObject({ options: { watchMs: 24 * 86_400_000 } });
    // --renotify is compared with dwell, never waited for: a month is fine.
    expect(parseCommandLine(['check', '--renotify', '30d'])).toMatchObject({ options: { renotifyMs: 30 * 86_400_000 } });
  });

  it('reads --read-limit for every command that reads a table', () => {
    expect(parseCommandLine(['list', '--read-limit', '64M'])).toMatchObject({ options: { readLimitBytes: 64 * 1024 * 1024 } });
    expect(parseCommandLine(['check', '--read-limit', '500M'])).toMatchObject({ options: { readLimitBytes: 500 * 1024 * 1024 } });
    expect(parseCommandLine(['watch', '--read-limit', '1K'])).toMatchObject({ options: { readLimitBytes: 1024 } });
    expect(parseCommandLine(['list'])).not.toHaveProperty('options.readLimitBytes');
  });

  it('answers --help and --version without running anything', () => {
    const help = parseCommandLine(['check', '--help']);
    expect(help).toMatchObject({ command: 'exit', exitCode: 0 });
    expect(help.command === 'exit' && help.output).toContain('--half-close <duration>');
    expect(parseCommandLine(['--version'], '1.2.3')).toEqual({ command: 'exit', exitCode: 0, output: '1.2.3\n' });
  });

  it('reads explain targets: a state, a connection either family, a row number', () => {
    expect(parseCommandLine(['explain', 'close-wait'])).toMatchObject({ command: 'explain', options: { target: { kind: 'state', state: 'CLOSE_WAIT' } } });
    expect(parseCommandLine(['explain', '127.0.0.1:5432-10.0.0.5:40100', '--state-file', '/s.json'])).toMatchObject({
      options: { target: { kind: 'connection', local: { address: '127.0.0.1', port: 5432 }, remote: { address: '10.0.0.5', port: 40100 } }, stateFilePath: '/s.json' },
    });
    expect(parseCommandLine(['explain', '[::1]:22-[::ffff:10.0.0.5]:5000'])).toMatchObject({ options: { target: { local: { address: '::1' }, remote: { address: '10.0.0.5', port: 5000 } } } });
    expect(parseCommandLine(['explain', '3'])).toMatchObject({ options: { target: { kind: 'row', row: 3 } } });
    expect(parseCommandLine(['explain'])).toMatchObject({ command: 'explain', options: {} });
  });

  it('reads reset: selection, endpoint patterns, kinds; a dry run unless --yes; check --reset kinds', () => {
    expect(parseCommandLine(['reset', '--state', 'CLOSE_WAIT', '--local', '[::1]:22', '--remote', '10.0.0.5', '--kind', 'half-close'])).toMatchObject({
      command: 'reset',
      options: { yes: false, selection: { states: ['CLOSE_WAIT'], local: { address: '::1', port: 22 }, remote: { address: '10.0.0.5' }, kinds: ['half-close'], flaggedOnly: false } },
    });
    expect(parseCommandLine(['reset', '--remote', ':5432', '--yes'])).toMatchObject({ options: { yes: true, selection: { remote: { port: 5432 } } } });
    expect(parseCommandLine(['reset', '--remote', '::1'])).toMatchObject({ options: { selection: { remote: { address: '::1' } } } });
    expect(parseCommandLine(['check', '--reset', 'half-close,idle'])).toMatchObject({ options: { resetKinds: ['half-close', 'idle'] } });
  });

  it('parses state words from every vocabulary', () => {
    expect(['LISTENING', 'fin-wait-1', 'FIN_WAIT2', 'estab', 'SYN_RCVD'].map(parseStateWord)).toEqual(['LISTEN', 'FIN_WAIT_1', 'FIN_WAIT_2', 'ESTABLISHED', 'SYN_RECEIVED']);
  });
});

describe('thresholds "off" on the command line, as in the config file', () => {
  it.each([
    ['--half-open', 'warning', 'halfOpenMs'],
    ['--synwait', 'warning', 'halfOpenMs'],
    ['--half-close', 'warning', 'halfCloseMs'],
    ['--finwait', 'warning', 'halfCloseMs'],
    ['--idle', 'warning', 'idleMs'],
    ['--critical-half-open', 'critical', 'halfOpenMs'],
    ['--critical-half-close', 'critical', 'halfCloseMs'],
    ['--critical-idle', 'critical', 'idleMs'],
  ] as const)('%s off switches the check off (Infinity) in every command that takes it', (flag, severity, field) => {
    for (const command of ['list', 'check', 'explain', 'reset', 'watch', 'serve', 'dashboard']) {
      const parsed = parseCommandLine([command, flag, 'off']);
      expect(parsed.command === 'exit' ? undefined : (parsed.options as { warning: object; critical: object })[severity]).toEqual({ [field]: Infinity });
    }
  });

  it('takes off in any case, on every threshold and --renotify', () => {
    expect(parseCommandLine(['list', '--idle', 'OFF', '--half-open', 'Off', '--critical-half-close', 'oFF'])).toMatchObject({
      options: { warning: { idleMs: Infinity, halfOpenMs: Infinity }, critical: { halfCloseMs: Infinity } },
    });
    expect(parseCommandLine(['check', '--renotify', 'OFF'])).toMatchObject({ options: { renotifyMs: Infinity } });
    // One value under two spellings is no contradiction.
    expect(parseCommandLine(['list', '--idle', 'off', '--idle', 'OFF'])).toMatchObject({ options: { warning: { idleMs: Infinity } } });
  });

  it('still refuses a word that is neither a duration nor "off", and takes off twice as one value', () => {
    expect(() => parseCommandLine(['list', '--idle', 'of'])).toThrow(/--idle <duration>' argument 'of' is invalid/);
    // A near miss of off is named; a word near nothing gets the forms a duration takes.
    expect(() => parseCommandLine(['list', '--idle', 'of'])).toThrow(/^option '--idle <duration>' argument 'of' is invalid\. invalid duration "of" \(did you mean off\?\)$/);
    expect(() => parseCommandLine(['check', '--critical-half-open', 'OFFF'])).toThrow(/invalid duration "OFFF" \(did you mean off\?\)$/);
    // --renotify reads off as the thresholds do (it named no near miss before), and still refuses 0.
    expect(() => parseCommandLine(['check', '--renotify', 'of'])).toThrow(/^option '--renotify <duration>' argument 'of' is invalid\. invalid duration "of" \(did you mean off\?\)$/);
    expect(() => parseCommandLine(['check', '--renotify', '0'])).toThrow(/argument '0' is invalid\. must be more than 0$/);
    expect(() => parseCommandLine(['list', '--idle', 'soon'])).toThrow(/invalid duration "soon": use seconds/);
    expect(() => parseCommandLine(['list', '--idle', 'off', '--idle', '1h'])).toThrow(/^--idle given twice with different values \(off, 1h\)/);
    expect(parseCommandLine(['list', '--half-open', 'off', '--synwait', 'off'])).toMatchObject({ options: { warning: { halfOpenMs: Infinity } } });
  });
});

describe('typo suggestions: one line, the nearest flag or state word', () => {
  const messageOf = (argv: string[]) => {
    try {
      parseCommandLine(argv);
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      return (error as Error).message;
    }
    return 'accepted';
  };

  it.each([
    [['list', '--stat', 'CLOSE_WAIT'], "unknown option '--stat' (did you mean --state?)"],
    [['--stat', 'CLOSE_WAIT'], "unknown option '--stat' (did you mean --state?)"],
    [['check', '--formt', 'json'], "unknown option '--formt' (did you mean --format?)"],
    [['watch', '--intreval', '5s'], "unknown option '--intreval' (did you mean --interval?)"],
    [['reset', '--flaged'], "unknown option '--flaged' (did you mean --flagged?)"],
    [['check', '--bogus'], "unknown option '--bogus'"],
    [['list', '--state', 'CLOSE_WIAT'], 'unknown state "CLOSE_WIAT" (did you mean CLOSE_WAIT?)'],
    [['reset', '--state', 'ESTABLISHD'], 'unknown state "ESTABLISHD" (did you mean ESTABLISHED?)'],
    [['list', '--state', 'LISTN'], 'unknown state "LISTN" (did you mean LISTEN?)'],
    [['explain', 'TIMEWIAT'], 'cannot explain "TIMEWIAT": unknown state "TIMEWIAT" (did you mean TIME_WAIT?)'],
  ])('%j', (argv, expected) => {
    const message = messageOf(argv);
    expect(message).toContain(expected);
    expect(message).not.toContain('\n');
  });

  it('on a terminal (where plain tcpdwell opens the dashboard) a near miss of a list flag is read as list, so the suggestion is the list flag', () => {
    expect(withDefaultCommand(['--stat', 'CLOSE_WAIT'], true)).toEqual(['--stat', 'CLOSE_WAIT']);
    expect(messageOf([...withDefaultCommand(['--stat', 'CLOSE_WAIT'], true)])).toBe("unknown option '--stat' (did you mean --state?)");
    // …while every option the dashboard lists still opens the dashboard.
    const help = parseCommandLine(['dashboard', '--help']);
    const flags = help.command === 'exit' ? [...help.output.matchAll(/^ {2}(--[\w-]+)/gm)].map((m) => m[1]!).filter((f) => f !== '--help') : [];
    expect(flags.length).toBeGreaterThan(10);
    for (const flag of flags) expect(withDefaultCommand([flag], true)[0], flag).toBe('dashboard');
  });

  it('a word near no state gets the list of states instead of a guess', () => {
    expect(messageOf(['list', '--state', 'HALF_DEAD'])).toMatch(/unknown state "HALF_DEAD" \(one of CLOSED, LISTEN, .*TIME_WAIT/);
  });

  it('takes state names written without separators or with spaces (one reading: they are unambiguous)', () => {
    expect(parseCommandLine(['list', '--state', 'CLOSEWAIT,finwait2,Time Wait,synrecv'])).toMatchObject({
      options: { selection: { states: ['CLOSE_WAIT', 'FIN_WAIT_2', 'TIME_WAIT', 'SYN_RECEIVED'] } },
    });
    expect(parseCommandLine(['explain', 'CLOSEWAIT'])).toMatchObject({ options: { target: { kind: 'state', state: 'CLOSE_WAIT' } } });
  });
});

describe('explain N and list --numbered', () => {
  it('reads --numbered for list (and as a list flag without a command)', () => {
    expect(parseCommandLine(['list', '--numbered'])).toMatchObject({ command: 'list', options: { numbered: true } });
    expect(parseCommandLine(['list'])).not.toHaveProperty('options.numbered');
  });

  it.each(['0', '00'])('refuses row %s: rows are numbered from 1', (row) => {
    expect(() => parseCommandLine(['explain', row])).toThrow(new UsageError(`cannot explain row ${row}: rows are numbered from 1 (see \`tcpdwell list --numbered\`)`));
  });
});

// Each option a command's --help lists is one the command accepts: given alone (with the option
// its help says it goes "with"), it parses. The sample values follow the help's own placeholders.
describe('--help lists only what the command accepts', () => {
  const SAMPLE: Record<string, string> = {
    duration: '5s',
    states: 'CLOSE_WAIT',
    ports: '22',
    pids: '1',
    names: 'x',
    endpoint: ':22',
    file: '/tmp/x',
    'files...': '/tmp/x',
    path: '/tmp/x',
    size: '1M',
    times: '2026-11-21T05:30:00Z',
    address: ':9477',
    kinds: 'idle',
    n: '2',
  };
  const COMMAND_NAMES = ['list', 'check', 'explain', 'reset', 'sources', 'watch', 'serve', 'dashboard'];

  /** `--flag <arg>` entries of a help text with their (unwrapped) descriptions. */
  function helpOptions(command: string): { flag: string; arg?: string; description: string }[] {
    const help = parseCommandLine([command, '--help']);
    if (help.command !== 'exit') throw new Error('no help');
    const entries: { flag: string; arg?: string; description: string }[] = [];
    for (const line of help.output.split('\n')) {
      const entry = /^ {2}(?:-\w, )?(--[\w-]+)(?: [<[]([^>\]]+)[>\]])?\s*(.*)$/.exec(line);
      if (entry) entries.push({ flag: entry[1]!, ...(entry[2] ? { arg: entry[2] } : {}), description: entry[3]! });
      else if (entries.length && /^ {4,}\S/.test(line)) entries[entries.length - 1]!.description += ` ${line.trim()}`;
    }
    return entries.filter((e) => e.flag !== '--help' && e.flag !== '--version');
  }

  function argvFor(option: { flag: string; arg?: string; description: string }, all: ReturnType<typeof helpOptions>): string[] {
    const choice = /\(choices: "([^"]+)"/.exec(option.description)?.[1];
    const value = option.arg === undefined || option.arg === 'interval' ? [] : [choice ?? SAMPLE[option.arg] ?? 'x'];
    const needs = /^with (--[\w-]+)/.exec(option.description)?.[1];
    const needed = needs ? all.find((o) => o.flag === needs) : undefined;
    return [...(needed ? argvFor(needed, all) : []), option.flag, ...value];
  }

  it.each(COMMAND_NAMES)('%s', (command) => {
    const options = helpOptions(command);
    expect(options.length).toBeGreaterThan(1);
    for (const option of options) {
      const argv = [command, ...argvFor(option, options)];
      expect(() => parseCommandLine(argv), argv.join(' ')).not.toThrow();
    }
  });

  it('reset and serve do not list --input (they refuse it), serve and dashboard not --json, and the refusal still explains itself', () => {
    const flags = (command: string) => helpOptions(command).map((o) => o.flag);
    for (const command of ['reset', 'serve']) expect(flags(command)).not.toEqual(expect.arrayContaining(['--input']));
    for (const command of ['reset', 'serve']) for (const flag of ['--input-format', '--at']) expect(flags(command)).not.toContain(flag);
    for (const command of ['serve', 'dashboard']) expect(flags(command)).not.toContain('--json');
    expect(flags('list')).toEqual(expect.arrayContaining(['--input', '--input-format', '--at', '--json', '--numbered']));
    expect(() => parseCommandLine(['reset', '--state', 'CLOSE_WAIT', '--input', '/tmp/x'])).toThrow(/^reset ends live sessions; it cannot be used with --input$/);
    expect(() => parseCommandLine(['serve', '--input', '/tmp/x'])).toThrow(/^serve polls the live host/);
  });
});

describe('--census-interval (tiered polling, issue 15)', () => {
  it('is taken by the long-running modes, and left unset (the 60 s default) when not given', () => {
    for (const command of ['watch', 'serve', 'dashboard']) {
      expect(parseCommandLine([command, '--census-interval', '5m'])).toMatchObject({ options: { censusIntervalMs: 300_000 } });
      const plain = parseCommandLine([command]);
      expect(plain.command !== 'exit' && 'censusIntervalMs' in plain.options).toBe(false);
    }
    expect(parseCommandLine(['check', '--window', '10m', '--census-interval', '30s'])).toMatchObject({ options: { censusIntervalMs: 30_000, windowMs: 600_000 } });
    expect(parseCommandLine(['list', '--watch', '--flagged', '--census-interval', '2m'])).toMatchObject({ options: { censusIntervalMs: 120_000 } });
  });

  it.each([
    [['check', '--census-interval', '30s'], /^--census-interval needs --window/],
    [['list', '--census-interval', '30s'], /^--census-interval needs --watch/],
    [['watch', '--census-interval', '0s'], /census-interval/],
    [['serve', '--census-interval', 'soon'], /census-interval/],
  ])('%j is refused', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(message);
  });

  it('is in --help of the modes that poll', () => {
    for (const command of ['watch', 'serve', 'dashboard', 'check', 'list']) {
      const help = parseCommandLine([command, '--help']);
      expect(help.command === 'exit' && help.output).toContain('--census-interval');
    }
    const explain = parseCommandLine(['explain', '--help']);
    expect(explain.command === 'exit' && explain.output).not.toContain('--census-interval');
  });
});
