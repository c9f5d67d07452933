import { parseTimestamp } from '../core/timestamp.js';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { normalizeAddress, parseAddressBytes, parseEndpointText, type Endpoint } from '../core/address.js';
import { DurationError, parseThreshold, parseTimerDuration } from '../core/duration.js';
import { SizeError, parseSize } from '../core/size.js';
import { DEFAULT_READ_LIMIT_BYTES, MAX_READ_LIMIT_BYTES, formatBytes } from '../platform/limits.js';
import { PRESET_NAMES, type PartialThresholds, type PortRange, type PresetName, type TimedFlagKind } from '../core/policy.js';
import { parsePid, parsePortRange, parseStateWord as stateOfWord, unknownStateMessage } from '../core/connection-filter.js';
import { nearestState } from '../core/state-vocabularies.js';
import { nearestWord } from '../core/suggest.js';
import type { TcpState } from '../core/tcp-state.js';
import { INPUT_FORMATS, SOURCE_NAMES, liveRecord, type InputFormat, type SourceChoice } from '../sources/registry.js';
import type { InputOptions } from '../sources/input-files.js';
import { parseNetnsChoice, type NetnsChoice } from '../sources/netns-choice.js';
import type { Selection } from './selection.js';

// argv → a command and its options, with no I/O: tested like any function. The flags are a public
// interface: names may be added, never renamed or removed.

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CommonOptions {
  source: SourceChoice;
  procRoot: string;
  configPath?: string;
  preset?: PresetName;
  warning: PartialThresholds;
  critical: PartialThresholds;
  json: boolean;
  /** Captured tables to analyse instead of polling (`--input`). */
  input?: InputOptions;
  /** --read-limit: the most bytes read of one file or one command's output (default platform/limits DEFAULT_READ_LIMIT_BYTES). */
  readLimitBytes?: number;
  /** --netns: the network namespaces to read (default: this process's own). */
  netns?: NetnsChoice;
}

/** Tiered polling of the long-running modes (app/monitor.ts TierOptions): `--census-interval`, default DEFAULT_CENSUS_INTERVAL_MS. */
export interface TierOption {
  censusIntervalMs?: number;
}

export interface ListOptions extends CommonOptions, TierOption {
  selection: Selection;
  /** Add the diagnosis finding to each flagged row. */
  why: boolean;
  /** Number each row with its place in the whole table: the N of `explain N`. */
  numbered?: boolean;
  /** Re-poll every this many ms; undefined = one shot. */
  watchMs?: number;
  /** Stop --watch after this many polls. */
  iterations?: number;
  /** With --watch: append events as JSON lines (reopened on SIGHUP). */
  logPath?: string;
}

export const CHECK_FORMATS = ['text', 'json', 'nagios'] as const;
export type CheckFormat = (typeof CHECK_FORMATS)[number];

export interface CheckOptions extends CommonOptions, TierOption {
  format: CheckFormat;
  /** Text: print every current flag, not only what is new since the last run. */
  all: boolean;
  /** Report a still-flagged session again after this long (Infinity: never). */
  renotifyMs: number;
  /** undefined = the default path (XDG state dir). */
  stateFilePath?: string;
  useStateFile: boolean;
  windowMs?: number;
  intervalMs: number;
  /** End the flagged sessions of these kinds (opt-in). */
  resetKinds?: TimedFlagKind[];
}

export interface ExplainOptions extends CommonOptions {
  /** A state word, a connection `LOCAL-REMOTE`, or a row number of `list`; undefined lists the states. */
  target?: ExplainTarget;
  /** Read history from check's state file (read only). */
  stateFilePath?: string;
}

export type ExplainTarget = { kind: 'state'; state: TcpState } | { kind: 'connection'; local: Endpoint; remote: Endpoint } | { kind: 'row'; row: number };

export interface ResetOptions extends CommonOptions {
  selection: Selection;
  /** Act; without it, a dry run. */
  yes: boolean;
  /** Confirms a selection that takes every session, or more than RESET_CONFIRM_ABOVE. */
  all: boolean;
  /** Act only if exactly this many sessions are selected (confirms a broad selection). */
  count?: number;
}

export interface WatchOptions extends CommonOptions, TierOption {
  intervalMs: number;
  /** Append JSON-lines events here too (reopened on SIGHUP). */
  logPath?: string;
  iterations?: number;
}

export interface ServeOptions extends CommonOptions, TierOption {
  listen: { host: string; port: number };
  intervalMs: number;
  /** Local ports whose connections get per-port metrics. */
  listenerPorts: number[];
  logPath?: string;
  /** --netns: series get a `netns` label for at most this many namespaces (the rest: netns="other"); 0 with --netns-aggregate: no label. */
  netnsSeriesMax: number;
}

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 9477 };

export interface DashboardOptions extends CommonOptions, TierOption {
  intervalMs: number;
  logPath?: string;
}

export type ParsedCommandLine =
  | { command: 'list'; options: ListOptions }
  | { command: 'check'; options: CheckOptions }
  | { command: 'explain'; options: ExplainOptions }
  | { command: 'reset'; options: ResetOptions }
  | { command: 'sources'; options: Pick<CommonOptions, 'procRoot' | 'json'> }
  | { command: 'watch'; options: WatchOptions }
  | { command: 'serve'; options: ServeOptions }
  | { command: 'dashboard'; options: DashboardOptions }
  | { command: 'exit'; output: string; exitCode: number }; // --help, --version

export const DEFAULT_WATCH_MS = 2000;
/** Tiered polling's default time between censuses (`--census-interval`): idle thresholds are minutes to hours. */
export const DEFAULT_CENSUS_INTERVAL_MS = 60_000;

/** `--census-interval`, or its default: milliseconds between the readings of every state. */
export const censusIntervalOf = (options: TierOption): number => options.censusIntervalMs ?? DEFAULT_CENSUS_INTERVAL_MS;
export const DEFAULT_RENOTIFY_MS = 3_600_000;

/**
 * A threshold (--half-open, --idle, --critical-*…): a duration, or `off` (Infinity: never flag),
 * as the config file's thresholds take it.
 */
function thresholdArg(value: string): number {
  try {
    return parseThreshold(value);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof DurationError ? error.message : String(error));
  }
}

/** `--renotify`: a threshold (`off`: never) of more than 0. */
function renotifyArg(value: string): number {
  const ms = thresholdArg(value);
  if (ms <= 0) throw new InvalidArgumentError('must be more than 0');
  return ms;
}

/** A duration a timer waits for (--interval, --watch, --window): positive and at most 24 days. */
function timerArg(value: string): number {
  try {
    return parseTimerDuration(value);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof DurationError ? error.message : String(error));
  }
}

/** A file or directory path; an empty one is refused (`--state-file ''` would be the current directory, `--proc-root ''` the root). */
function pathArg(value: string): string {
  if (value === '') throw new InvalidArgumentError('no path given (an empty path would mean the current directory)');
  return value;
}

/**
 * A comma-separated list option, gathered over repeats. An empty item (`''`, `,`, `80,`) is refused:
 * dropping it would leave a filter that matches nothing, or one narrower than asked, with no word said.
 */
function listArg<T>(parseOne: (item: string) => T, whenEmpty = 'no value given (an empty filter would match nothing)') {
  return (value: string, previous: T[] | undefined): T[] => {
    const items = value.split(',').map((s) => s.trim());
    if (items.some((item) => item === '')) {
      throw new InvalidArgumentError(items.length === 1 ? whenEmpty : 'an empty item between commas (remove the extra comma)');
    }
    return [...(previous ?? []), ...items.map(parseOne)];
  };
}

/** Any spelling of a state (the grammar of core/connection-filter): ESTABLISHED, estab, close-wait, CLOSEWAIT, SYN_RECV, LISTENING… */
export function parseStateWord(word: string): TcpState {
  const state = stateOfWord(word);
  if (state === undefined) throw new InvalidArgumentError(unknownStateMessage(word));
  return state;
}

function portRangeArg(item: string): PortRange {
  const range = parsePortRange(item);
  if (!range) throw new InvalidArgumentError(`invalid port "${item}" (0-65535, or a range such as 6000-6010)`);
  return range;
}

function countArg(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('must be a whole number above 0');
  return Number(value);
}

function pidArg(item: string): number {
  const pid = parsePid(item);
  if (pid === undefined) throw new InvalidArgumentError(`invalid pid "${item}"`);
  return pid;
}

const FLAG_KINDS: TimedFlagKind[] = ['half-open', 'half-close', 'idle'];

function kindArg(item: string): TimedFlagKind {
  if (!(FLAG_KINDS as string[]).includes(item)) throw new InvalidArgumentError(`unknown kind "${item}" (one of ${FLAG_KINDS.join(', ')})`);
  return item as TimedFlagKind;
}

/** `10.0.0.5:5432`, `[::1]:22`, `10.0.0.5` or `::1` (any port), `:5432` (any address). */
function endpointPatternArg(value: string): Partial<Endpoint> {
  if (/^:\d+$/.test(value)) return { port: portRangeArg(value.slice(1)).from };
  // A bare address first: `::1` is an address, not `::` port 1.
  const bare = value.replace(/^\[(.*)\]$/, '$1');
  if (parseAddressBytes(bare)) return { address: normalizeAddress(bare) };
  const endpoint = parseEndpointText(value);
  if (endpoint && !endpoint.wildcard) return { address: endpoint.address, port: endpoint.port };
  throw new InvalidArgumentError(`invalid address "${value}" (use 10.0.0.5:5432, [::1]:22, 10.0.0.5 or :5432)`);
}

/** Connection filters shared by `list` and `reset`. */
function addSelectionOptions(command: Command): Command {
  return command
    .option('--state <states>', 'only these states (comma-separated; any spelling: CLOSE_WAIT, close-wait, ESTAB)', listArg(parseStateWord))
    .option('--port <ports>', 'only these local or remote ports or ranges (5432,6000-6010)', listArg(portRangeArg))
    .option('--pid <pids>', 'only sockets of these processes', listArg(pidArg))
    .option(
      '--process <names>',
      'only sockets of processes with these names (* matches anything)',
      listArg((s) => s),
    )
    .option('--local <endpoint>', 'only this local address and/or port (10.0.0.1:5432, [::1]:22, 10.0.0.1, :5432)', endpointPatternArg)
    .option('--remote <endpoint>', 'only this remote address and/or port', endpointPatternArg)
    .option('--flagged', 'only flagged connections', false)
    .option('--kind <kinds>', 'only connections flagged as these kinds (half-open,half-close,idle)', listArg(kindArg));
}

function selectionFrom(raw: RawOptions): Selection {
  const selection: Selection = { flaggedOnly: Boolean(raw.flagged) };
  if (raw.state) selection.states = raw.state as TcpState[];
  if (raw.port) selection.ports = raw.port as PortRange[];
  if (raw.pid) selection.pids = raw.pid as number[];
  if (raw.process) selection.processes = raw.process as string[];
  if (raw.local) selection.local = raw.local as Partial<Endpoint>;
  if (raw.remote) selection.remote = raw.remote as Partial<Endpoint>;
  if (raw.kind) selection.kinds = raw.kind as TimedFlagKind[];
  return selection;
}

/** `127.0.0.1:5432-10.0.0.5:40100`, `[::1]:22-[::1]:50000`, a row number, or a state word. */
export function parseExplainTarget(text: string): ExplainTarget {
  if (/^\d+$/.test(text)) {
    const row = Number(text);
    if (!Number.isSafeInteger(row) || row < 1) throw new UsageError(`cannot explain row ${text}: rows are numbered from 1 (see \`tcpdwell list --numbered\`)`);
    return { kind: 'row', row };
  }
  const halves = text.split('-');
  if (halves.length === 2 && halves.every((h) => /:\d+$/.test(h))) {
    const [local, remote] = halves.map((h) => parseEndpointText(h));
    if (local && remote && !local.wildcard && !remote.wildcard) {
      return { kind: 'connection', local: { address: local.address, port: local.port }, remote: { address: remote.address, port: remote.port } };
    }
  }
  const state = stateOfWord(text);
  if (state !== undefined) return { kind: 'state', state };
  if (nearestState(text)) throw new UsageError(`cannot explain "${text}": ${unknownStateMessage(text)}`);
  throw new UsageError(`cannot explain "${text}": give a state (CLOSE_WAIT), a connection (127.0.0.1:5432-10.0.0.5:40100) or a row number of \`tcpdwell list --numbered\``);
}

/**
 * What a command refuses of the common options (it says why when given): help shows only what the
 * command accepts, while the option stays known so the refusal can explain itself.
 */
interface Refused {
  /** --input, --input-format, --at: the command acts on the live host. */
  input?: boolean;
  /** --json: the command's output is not JSON. */
  json?: boolean;
}

function addCommonOptions(command: Command, refused: Refused = {}): Command {
  const refusedIf = (option: Option, refuse: boolean | undefined) => (refuse ? option.hideHelp() : option);
  return command
    .addOption(new Option('--source <name>', 'socket table to read').choices(SOURCE_NAMES).default('auto'))
    .option('--proc-root <path>', "procfs mount point (a container's view of the host: /host/proc)", pathArg, '/proc')
    .option('--netns <ns>', "network namespaces to read (Linux): all, an ip netns NAME, a PID, or a namespace file PATH (default: this process's own)", netnsArg)
    .option('--config <file>', 'thresholds, rules and count limits (YAML or JSON)', pathArg)
    .addOption(new Option('--preset <name>', 'reference timers: ios 30s/30s/1h, asa 30s/10m/1h, conntrack (netfilter per-state timeouts)').choices(PRESET_NAMES))
    .option('--half-open <duration>', 'SYN_SENT / SYN_RECEIVED longer than this is flagged (alias --synwait; default 30s; "off": never)', thresholdArg)
    .addOption(new Option('--synwait <duration>').argParser(thresholdArg).hideHelp())
    .option('--half-close <duration>', 'FIN_WAIT_1/2, CLOSE_WAIT, CLOSING, LAST_ACK without a segment from the peer for longer (alias --finwait; default 30s; "off": never)', thresholdArg)
    .addOption(new Option('--finwait <duration>').argParser(thresholdArg).hideHelp())
    .option('--idle <duration>', 'ESTABLISHED with no data either way for longer (default 1h; "off": never; needs a source that reports activity: netlink or ss)', thresholdArg)
    .option('--critical-half-open <duration>', 'escalate half-open flags to critical past this (default: never)', thresholdArg)
    .option('--critical-half-close <duration>', 'escalate half-close flags to critical past this (default: never)', thresholdArg)
    .option('--critical-idle <duration>', 'escalate idle flags to critical past this (default: never)', thresholdArg)
    .addOption(refusedIf(new Option('--json', 'machine-readable output (see README, JSON output)').default(false), refused.json))
    .addOption(
      refusedIf(
        new Option(
          '--input <files...>',
          'analyse captured tables instead of polling: /proc/net/tcp, ss, netstat (Linux, Windows, macOS), Get-NetTCPConnection JSON/CSV, nf_conntrack; several files are replayed in time order',
        ),
        refused.input,
      ),
    )
    .addOption(refusedIf(new Option('--input-format <format>', 'with --input: the tool that wrote the files (default: detected from the text)').choices(INPUT_FORMATS), refused.input))
    .addOption(
      refusedIf(
        new Option('--at <times>', 'with --input: capture times, one per file in order (ISO-8601, comma-separated); default: a "# captured at" first line, else the file time').argParser(
          listArg(timeArg, 'no time given (one ISO-8601 time per file, comma-separated)'),
        ),
        refused.input,
      ),
    )
    .option(
      '--read-limit <size>',
      `most of one ${refused.input ? 'file (/proc tables)' : 'file (--input, /proc tables)'} or one command's output read (default ${formatBytes(DEFAULT_READ_LIMIT_BYTES)}; K, M, G: powers of 1024; at most ${formatBytes(MAX_READ_LIMIT_BYTES)})`,
      readLimitArg,
    );
}

/** Namespaces that get their own `netns` label value in serve's series, by default. */
export const DEFAULT_NETNS_SERIES = 50;

function netnsSeriesArg(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 10_000)) throw new InvalidArgumentError('must be a whole number from 1 to 10000');
  return n;
}

function netnsArg(value: string): NetnsChoice {
  try {
    return parseNetnsChoice(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function readLimitArg(value: string): number {
  let bytes: number;
  try {
    bytes = parseSize(value);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof SizeError ? error.message : String(error));
  }
  if (bytes < 1024 || bytes > MAX_READ_LIMIT_BYTES) throw new InvalidArgumentError(`must be from 1K to ${formatBytes(MAX_READ_LIMIT_BYTES)} (one string holds at most that much text)`);
  return bytes;
}

function timeArg(item: string): number {
  const ms = parseTimestamp(item);
  if (typeof ms === 'string') throw new InvalidArgumentError(`invalid time "${item}": ${ms}`);
  return ms;
}

type RawOptions = Record<string, unknown>;

/** The long-running modes (watch, serve, dashboard): common options, --interval and --log. */
function addPollingOptions(command: Command, intervalHelp: string, refused: Refused = {}): Command {
  return addCensusOption(addCommonOptions(command, refused).option('--interval <duration>', intervalHelp, timerArg)).option(
    '--log <file>',
    'append events as JSON lines to this file (reopened on SIGHUP)',
    pathArg,
  );
}

const CENSUS_HELP = `read every state this often (the per-state counts, and idle for ESTABLISHED); the polls between read only the states a connection can be stuck in (default ${DEFAULT_CENSUS_INTERVAL_MS / 1000}s)`;

function addCensusOption(command: Command, help = CENSUS_HELP): Command {
  return command.option('--census-interval <duration>', help, timerArg);
}

function pollingFrom(raw: RawOptions, defaultIntervalMs: number): { intervalMs: number; logPath?: string; censusIntervalMs?: number } {
  const polling: { intervalMs: number; logPath?: string; censusIntervalMs?: number } = { intervalMs: (raw.interval as number | undefined) ?? defaultIntervalMs };
  if (typeof raw.log === 'string') polling.logPath = raw.log;
  if (raw.censusInterval !== undefined) polling.censusIntervalMs = raw.censusInterval as number;
  return polling;
}

function commonFrom(raw: RawOptions): CommonOptions {
  const pick = (a: string, b?: string) => (raw[a] ?? (b ? raw[b] : undefined)) as number | undefined;
  const warning: PartialThresholds = {};
  const critical: PartialThresholds = {};
  const set = (target: PartialThresholds, field: 'halfOpenMs' | 'halfCloseMs' | 'idleMs', value: number | undefined) => {
    if (value !== undefined) target[field] = value;
  };
  set(warning, 'halfOpenMs', pick('halfOpen', 'synwait'));
  set(warning, 'halfCloseMs', pick('halfClose', 'finwait'));
  set(warning, 'idleMs', pick('idle'));
  set(critical, 'halfOpenMs', pick('criticalHalfOpen'));
  set(critical, 'halfCloseMs', pick('criticalHalfClose'));
  set(critical, 'idleMs', pick('criticalIdle'));
  const options: CommonOptions = {
    source: raw.source as SourceChoice,
    procRoot: String(raw.procRoot).replace(/\/+$/, '') || '/',
    warning,
    critical,
    json: Boolean(raw.json),
  };
  if (typeof raw.config === 'string') options.configPath = raw.config;
  if (Array.isArray(raw.input)) {
    options.input = { paths: raw.input as string[] };
    if (raw.inputFormat) options.input.format = raw.inputFormat as InputFormat;
    if (raw.at) options.input.atMs = raw.at as number[];
  } else if (raw.inputFormat !== undefined || raw.at !== undefined) {
    throw new UsageError('--input-format and --at need --input FILE…');
  }
  if (typeof raw.preset === 'string') options.preset = raw.preset as PresetName;
  if (raw.readLimit !== undefined) options.readLimitBytes = raw.readLimit as number;
  if (raw.netns !== undefined) {
    if (options.input) throw new UsageError('--netns reads live namespaces: it does not go with --input');
    // A combination of flags no host can satisfy: a usage error (64), not a failed read (3).
    if (options.source !== 'auto' && !liveRecord(options.source).live.capabilities.netns) {
      const through = SOURCE_NAMES.filter((name) => name !== 'auto' && liveRecord(name).live.capabilities.netns);
      throw new UsageError(`--netns reads namespaces through ${through.slice(0, -1).join(', ')} or ${through.at(-1)} (or auto), not --source ${options.source}`);
    }
    options.netns = raw.netns as NetnsChoice;
  }
  return options;
}

const COMMANDS = ['list', 'check', 'explain', 'reset', 'sources', 'watch', 'serve', 'dashboard', 'help'];

/**
 * Plain `tcpdwell` on a terminal opens the dashboard; piped, or with list's output flags, it lists.
 * Returns the argv to parse.
 */
export function withDefaultCommand(argv: readonly string[], interactive: boolean): readonly string[] {
  const first = argv[0];
  if (!interactive || (first !== undefined && !first.startsWith('-'))) return argv;
  const listOnly = [
    '--json',
    '--watch',
    '--why',
    '--help',
    '-h',
    '--version',
    '-V',
    '--iterations',
    '--numbered',
    '--flagged',
    '--state',
    '--port',
    '--pid',
    '--process',
    '--local',
    '--remote',
    '--kind',
  ];
  // A near miss of a list flag (`--stat`) goes to list too, so its error suggests the list flag.
  const forList = (flag: string) => flag.startsWith('--') && (listOnly.includes(flag) || nearestWord(flag, listOnly) !== undefined);
  return argv.some((a) => forList(a.split('=')[0]!)) ? argv : ['dashboard', ...argv];
}

/** `127.0.0.1:9477`, `[::1]:9477`, `0.0.0.0:9477`, or `:9477` (127.0.0.1). */
function listenArg(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || !(port >= 0 && port <= 65535)) throw new InvalidArgumentError(`invalid address "${value}" (use 127.0.0.1:9477, [::1]:9477 or :9477)`);
  return { host: match[1] ?? (match[2] || DEFAULT_LISTEN.host), port };
}

export function parseCommandLine(argv: readonly string[], version = '0.0.0'): ParsedCommandLine {
  // `list` is the default command, so commander would read a mistyped command as list's argument.
  const first = argv[0];
  if (first !== undefined && !first.startsWith('-') && !COMMANDS.includes(first)) {
    const nearest = nearestWord(first, COMMANDS);
    throw new UsageError(`unknown command '${first}' (${nearest ? `did you mean ${nearest}?` : `commands: ${COMMANDS.filter((c) => c !== 'help').join(', ')}`})`);
  }
  let parsed: ParsedCommandLine | undefined;
  let output = '';
  const program = new Command('tcpdwell')
    .description('TCP connections with the time each has dwelt in its state; flags half-open, half-close and idle sessions')
    .version(version, '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (output += s), writeErr: (s) => (output += s) })
    .showSuggestionAfterError(true);

  addSelectionOptions(addCommonOptions(program.command('list', { isDefault: true }).description('netstat-like table: state, endpoints, owner, dwell, idle, flag; flagged first')))
    .option('--why', 'add the diagnosis to each flagged row: why it is stuck, the evidence, what to do', false)
    .option('--numbered', 'number the rows as `explain N` takes them: the place in the whole table, so a filtered row keeps its number', false)
    .option('--watch [interval]', `re-poll every interval (default ${DEFAULT_WATCH_MS / 1000}s), keeping dwell history in memory`)
    .option('--log <file>', 'with --watch: append events as JSON lines to this file (reopened on SIGHUP)', pathArg)
    .option('--iterations <n>', 'with --watch: stop after n polls', countArg)
    .option('--census-interval <duration>', `with --watch and a table of stuck or flagged sessions only: ${CENSUS_HELP}`, timerArg)
    .action((raw: RawOptions) => {
      const options: ListOptions = { ...commonFrom(raw), selection: selectionFrom(raw), why: Boolean(raw.why) };
      if (raw.censusInterval !== undefined) {
        if (raw.watch === undefined) throw new UsageError('--census-interval needs --watch (a single listing reads every state once)');
        options.censusIntervalMs = raw.censusInterval as number;
      }
      if (raw.watch !== undefined) options.watchMs = raw.watch === true ? DEFAULT_WATCH_MS : timerOrUsage(String(raw.watch), '--watch');
      if (raw.iterations !== undefined) options.iterations = raw.iterations as number;
      if (raw.numbered) options.numbered = true;
      if (options.input && options.watchMs !== undefined) throw new UsageError('--watch polls a live source; it cannot be used with --input');
      if (typeof raw.log === 'string') {
        if (options.watchMs === undefined) throw new UsageError('--log needs --watch (a single listing has no events)');
        options.logPath = raw.log;
      }
      parsed = { command: 'list', options };
    });

  addCommonOptions(
    program
      .command('check')
      .description('for cron and monitoring: reports what is new since the last run, silent otherwise; exit 0 ok, 1 warning, 2 critical, 3 unknown')
      .option('--state-file <path>', 'carry dwell history between runs here (default $XDG_STATE_HOME/tcpdwell/check-state.json)', pathArg)
      .option('--no-state', 'keep no history between runs (first-sight and kernel dwell only)')
      .option('--window <duration>', 'sample for this long instead of using the state file (at most 24 days)', timerArg)
      .option('--interval <duration>', 'with --window: time between polls (default 2s)', timerArg)
      .option('--census-interval <duration>', `with --window: ${CENSUS_HELP}`, timerArg)
      .option('--reset <kinds>', 'end the flagged sessions of these kinds (half-open,half-close,idle) through the kernel; needs root', listArg(kindArg))
      .addOption(new Option('--format <format>', 'text: what is new since the last run (silent otherwise); json: the whole report; nagios: one status line with perfdata').choices(CHECK_FORMATS))
      .option('--all', 'text: print every current flag, not only new, escalated, repeated and resolved ones', false)
      .option('--renotify <duration>', 'report a session that is still flagged again after this long (default 1h; "off": never)', renotifyArg),
  ).action((raw: RawOptions) => {
    const common = commonFrom(raw);
    const format = (raw.format as CheckFormat | undefined) ?? (common.json ? 'json' : 'text');
    if (raw.format !== undefined && common.json && format !== 'json') throw new UsageError('--json and --format nagios/text disagree; give one of them');
    const options: CheckOptions = {
      ...common,
      json: format === 'json',
      format,
      all: Boolean(raw.all),
      renotifyMs: (raw.renotify as number | undefined) ?? DEFAULT_RENOTIFY_MS,
      useStateFile: raw.state !== false,
      intervalMs: (raw.interval as number | undefined) ?? 2000,
    };
    if (typeof raw.stateFile === 'string') options.stateFilePath = raw.stateFile;
    if (raw.window !== undefined) options.windowMs = raw.window as number;
    if (raw.reset) options.resetKinds = raw.reset as TimedFlagKind[];
    if (raw.interval !== undefined && raw.window === undefined) throw new UsageError('--interval needs --window (without it check polls once)');
    if (raw.censusInterval !== undefined) {
      if (raw.window === undefined) throw new UsageError('--census-interval needs --window (without it check reads every state once)');
      options.censusIntervalMs = raw.censusInterval as number;
    }
    if (options.input && (options.windowMs !== undefined || options.resetKinds)) throw new UsageError('--window and --reset act on the live host; they cannot be used with --input');
    parsed = { command: 'check', options };
  });

  addCommonOptions(
    program
      .command('explain')
      .argument('[target]', 'a state (CLOSE_WAIT), a connection (127.0.0.1:5432-10.0.0.5:40100) or a row number of `tcpdwell list`')
      .description('what a state means and what to check; for a connection: its finding, evidence, rule and history')
      .option('--state-file <path>', "read dwell history from check's state file (read only)", pathArg),
  ).action((target: string | undefined, raw: RawOptions) => {
    const options: ExplainOptions = commonFrom(raw);
    if (target !== undefined) options.target = parseExplainTarget(target);
    if (typeof raw.stateFile === 'string') options.stateFilePath = raw.stateFile;
    parsed = { command: 'explain', options };
  });

  addSelectionOptions(
    addCommonOptions(
      program
        .command('reset')
        .description('end selected sessions (ss -K on Linux, SetTcpEntry on Windows); a dry run unless --yes; never LISTEN or TIME_WAIT')
        .option('--yes', 'really end them (needs root)', false)
        .option('--all', 'with --yes: the selection may take every session, or more than 10', false)
        .option('--count <n>', 'with --yes: end them only if exactly n sessions are selected (confirms a broad selection)', countArg),
      { input: true },
    ),
  ).action((raw: RawOptions) => {
    const options: ResetOptions = { ...commonFrom(raw), selection: selectionFrom(raw), yes: Boolean(raw.yes), all: Boolean(raw.all) };
    if (raw.count !== undefined) options.count = raw.count as number;
    if (options.input) throw new UsageError('reset ends live sessions; it cannot be used with --input');
    parsed = { command: 'reset', options };
  });

  addPollingOptions(
    program
      .command('watch')
      .description('each change as it happens: opened, state-changed, flagged, resolved, closed (--events: JSON lines)')
      .option('--events', 'JSON lines instead of text (the event log format)', false)
      .option('--iterations <n>', 'stop after n polls', countArg),
    'time between polls (default 2s)',
  ).action((raw: RawOptions) => {
    const options: WatchOptions = { ...commonFrom(raw), ...pollingFrom(raw, DEFAULT_WATCH_MS) };
    if (raw.events) options.json = true;
    if (raw.iterations !== undefined) options.iterations = raw.iterations as number;
    parsed = { command: 'watch', options };
  });

  addPollingOptions(
    program
      .command('serve')
      .description('Prometheus exporter: /metrics with connections by state, flagged sessions and dwell histograms')
      .option('--listen <address>', `where to serve /metrics (default ${DEFAULT_LISTEN.host}:${DEFAULT_LISTEN.port}; other hosts only if you say so)`, listenArg)
      .option('--listener-port <ports>', 'also count connections by state on these local ports', listArg(portRangeArg))
      .option(
        '--netns-series <n>',
        `with --netns: label series with their namespace for at most this many namespaces, the rest summed as netns="other" (default ${DEFAULT_NETNS_SERIES})`,
        netnsSeriesArg,
      )
      .option('--netns-aggregate', 'with --netns: no netns label, every namespace summed (as without --netns)', false),
    'time between polls, independent of scrapes (default 15s)',
    { input: true, json: true },
  ).action((raw: RawOptions) => {
    const options: ServeOptions = {
      ...commonFrom(raw),
      ...pollingFrom(raw, 15_000),
      listen: (raw.listen as ServeOptions['listen'] | undefined) ?? DEFAULT_LISTEN,
      listenerPorts: ((raw.listenerPort as PortRange[] | undefined) ?? []).flatMap((r) => Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i)).slice(0, 1000),
      netnsSeriesMax: raw.netnsAggregate ? 0 : ((raw.netnsSeries as number | undefined) ?? DEFAULT_NETNS_SERIES),
    };
    if ((raw.netnsSeries !== undefined || raw.netnsAggregate) && !options.netns) throw new UsageError('--netns-series and --netns-aggregate go with --netns');
    if (options.input) throw new UsageError('serve polls the live host; it cannot be used with --input');
    parsed = { command: 'serve', options };
  });

  addPollingOptions(
    program.command('dashboard').description('full-screen live view (the default on a terminal): flagged first, charts, details, grouping'),
    'time between polls (default 2s; + and - change it live)',
    { json: true },
  ).action((raw: RawOptions) => {
    const options: DashboardOptions = { ...commonFrom(raw), ...pollingFrom(raw, DEFAULT_WATCH_MS) };
    parsed = { command: 'dashboard', options };
  });

  program
    .command('sources')
    .description('each socket source, whether it works on this machine, and what it can tell')
    .option('--proc-root <path>', 'procfs mount point', pathArg, '/proc')
    .option('--json', 'machine-readable output', false)
    .action((raw: RawOptions) => {
      parsed = { command: 'sources', options: { procRoot: String(raw.procRoot).replace(/\/+$/, '') || '/', json: Boolean(raw.json) } };
    });

  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return { command: 'exit', output, exitCode: 0 };
      throw new UsageError(oneLine(output || error.message), { cause: error });
    }
    throw error;
  }
  if (!parsed) throw new UsageError('no command given');
  const command = program.commands.find((c) => c.name() === parsed!.command);
  if (command) refuseRepeatedValues(argv[0] === parsed.command ? argv.slice(1) : argv, command);
  refuseMeaninglessCombinations(parsed);
  return parsed;
}

/** Options that gather every value given (lists), so giving them twice is no contradiction. */
const GATHERING_OPTIONS = new Set(['state', 'port', 'pid', 'process', 'kind', 'reset', 'at', 'listenerPort', 'input']);
/** Hidden aliases: one option under two names (ASA's timeout names beside the field's own). */
const ALIAS_OF: Record<string, string> = { synwait: 'halfOpen', finwait: 'halfClose' };

/**
 * An option that takes one value, given twice (or under its alias) with values that differ:
 * commander keeps the last silently, so `--half-open 5s --synwait 50s` would mean 50s with no
 * word said. The values are compared as parsed (`5s` and `5000ms` agree).
 */
function refuseRepeatedValues(argv: readonly string[], command: Command): void {
  const seen = new Map<string, { flag: string; text: string; value: string }>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const option = command.options.find((o) => o.long === flag);
    if (!option || option.negate || (!option.required && !option.optional) || option.variadic) continue;
    let text: string | undefined;
    if (eq >= 0) text = arg.slice(eq + 1);
    else if (option.required || (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('-'))) text = argv[++i];
    const name = option.attributeName();
    if (GATHERING_OPTIONS.has(name)) continue;
    const key = ALIAS_OF[name] ?? name;
    const value = text === undefined ? 'true' : comparable(option, text);
    const before = seen.get(key);
    if (before && before.value !== value) {
      const shown = (t: string) => (t === '' ? '(no value)' : t);
      throw new UsageError(
        before.flag === flag
          ? `${flag} given twice with different values (${shown(before.text)}, ${shown(text ?? '')}): give it once`
          : `${before.flag} ${shown(before.text)} and ${flag} ${shown(text ?? '')} disagree (one option under two names): give one of them`,
      );
    }
    seen.set(key, { flag, text: text ?? '', value });
  }
}

function comparable(option: Option, text: string): string {
  try {
    const parsed: unknown = option.parseArg ? option.parseArg(text, undefined) : text;
    return JSON.stringify(parsed) ?? text;
  } catch {
    return text; // commander has already refused a bad value
  }
}

/** Flags that mean nothing beside another (or together contradict): refused, not ignored. */
function refuseMeaninglessCombinations(parsed: ParsedCommandLine): void {
  switch (parsed.command) {
    case 'list':
      if (parsed.options.iterations !== undefined && parsed.options.watchMs === undefined) throw new UsageError('--iterations needs --watch (a single listing is one poll)');
      return;
    case 'check': {
      const o = parsed.options;
      if (!o.useStateFile && o.stateFilePath !== undefined) throw new UsageError('--no-state and --state-file disagree: give one of them');
      if (o.all && o.format !== 'text') throw new UsageError(`--all is for text output; --format ${o.format} always has every flag`);
      return;
    }
    case 'serve':
    case 'dashboard':
      if (parsed.options.json)
        throw new UsageError(
          `--json means nothing to ${parsed.command} (${parsed.command === 'serve' ? 'it serves Prometheus text; --log writes JSON lines' : 'it draws on the terminal; --log writes JSON lines'})`,
        );
      return;
    default:
      return;
  }
}

function timerOrUsage(value: string, flag: string): number {
  try {
    return timerArg(value);
  } catch (error) {
    throw new UsageError(`option '${flag} [interval]' argument '${value}' is invalid. ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Commander's error as one line: its first line, and its typo suggestion (on a line of its own,
 * `(Did you mean --state?)`) joined to it.
 */
function oneLine(text: string): string {
  const [first = text, ...rest] = text.trim().split('\n');
  const suggestion = rest.find((line) => /^\(Did you mean /.test(line));
  return `${first.replace(/^error: /, '')}${suggestion ? ` ${suggestion.replace(/^\(Did/, '(did')}` : ''}`;
}
