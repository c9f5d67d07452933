import { LineCounter, parseDocument, isNode, visit, type Document } from 'yaml';
import { z } from 'zod';
import { parseCidr } from '../core/address.js';
import { DurationError, parseThreshold, parseTimerDuration } from '../core/duration.js';
import { PRESET_NAMES, type ConnectionMatch, type CountRule, type PartialThresholds, type PresetName, type SessionRule } from '../core/policy.js';
import { parsePortRange, parseProcessPattern, parseStateWord, unknownStateMessage } from '../core/connection-filter.js';
import { sessionClassOf, TcpState } from '../core/tcp-state.js';
import { ConfigError } from './config-error.js';

// The config file (JSON or YAML; JSON is read by the YAML parser too, so both get line numbers).
//
//   preset: asa
//   thresholds: { half-open: 30s, half-close: 10m, idle: 1h, states: { CLOSE_WAIT: 5m } }
//   critical:   { half-close: 1h }
//   rules:
//     - name: postgres
//       match: { local-port: [5432, "6000-6010"], remote-address: [10.0.0.0/8], process: [postgres] }
//       thresholds: { idle: 8h }
//       critical: { idle: off }
//   counts:
//     - { name: close-wait-leak, state: CLOSE_WAIT, per: process, warning: 100, critical: 1000 }
//   notify:                                   # check's notifications, to any number of these
//     - { type: exec, command: [/usr/local/bin/page, --team, net] }
//     - { type: webhook, url: https://hooks.example.com/tcpdwell, timeout: 10s, retries: 3 }
//     - { type: syslog, facility: daemon, tag: tcpdwell }

export { ConfigError };
export { buildPolicy, type ThresholdOverrides } from './build-policy.js';

/**
 * A transform that reads a value's text with `read` (a parser of core): a DurationError it throws,
 * or an undefined result (then `problem` says why), is an issue on the value.
 */
function readWith<T>(read: (text: string) => T | undefined, problem: (text: string) => string = (text) => `invalid value "${text}"`) {
  return (value: string | number, ctx: z.RefinementCtx): T => {
    const text = String(value);
    let result: T | undefined;
    try {
      result = read(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof DurationError ? error.message : String(error) });
      return z.NEVER;
    }
    if (result === undefined) {
      ctx.addIssue({ code: 'custom', message: problem(text) });
      return z.NEVER;
    }
    return result;
  };
}

const durationValue = z.union([z.string(), z.number()]).transform(readWith(parseThreshold));

/** A notifier's timeout: a timer waits for it, so no "off" and at most 24 days (MAX_TIMER_MS). */
const timerValue = z.union([z.string(), z.number()]).transform(readWith(parseTimerDuration));

// States, ports and process names are read with the grammar the command line and the dashboard
// use (core/connection-filter), so `state: close-wait`, `CLOSEWAIT` or `CLOSE-WAIT` mean CLOSE_WAIT.
const stateName = z.string().transform(readWith(parseStateWord, unknownStateMessage));

const thresholdsSchema = z
  .strictObject({
    'half-open': durationValue.optional(),
    'half-close': durationValue.optional(),
    idle: durationValue.optional(),
    states: z.record(z.string(), durationValue).optional(),
  })
  .transform((t, ctx): PartialThresholds => {
    const result: PartialThresholds = {};
    if (t['half-open'] !== undefined) result.halfOpenMs = t['half-open'];
    if (t['half-close'] !== undefined) result.halfCloseMs = t['half-close'];
    if (t.idle !== undefined) result.idleMs = t.idle;
    if (t.states) {
      result.perStateMs = {};
      const spelled = new Map<TcpState, string>();
      for (const [name, ms] of Object.entries(t.states)) {
        const state = parseStateWord(name);
        if (state === undefined) {
          ctx.addIssue({ code: 'custom', path: ['states', name], message: unknownStateMessage(name) });
          continue;
        }
        // Two spellings of one state (CLOSE_WAIT and close-wait) would leave the one that wins to key order.
        const earlier = spelled.get(state);
        if (earlier !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['states', name], message: `${state} is given twice ("${earlier}" and "${name}"); give it once` });
          continue;
        }
        spelled.set(state, name);
        // Only the half-open, half-close and ESTABLISHED (idle) states are timed; a threshold on any other would check nothing.
        if (sessionClassOf(state) === 'other') {
          ctx.addIssue({
            code: 'custom',
            path: ['states', name],
            message: `${state} is never flagged by how long it lasts (only the half-open, half-close and ESTABLISHED states are); a count rule can watch it`,
          });
          continue;
        }
        result.perStateMs[state] = ms;
      }
    }
    return result;
  });

const portRange = z.union([z.number(), z.string()]).transform(readWith(parsePortRange, (text) => `invalid port or range "${text}" (use 5432 or "6000-6010", 0-65535)`));

const processPattern = z.string().transform(readWith(parseProcessPattern, () => 'a process name may not be blank'));

const cidr = z.string().transform(
  readWith(
    (text) => parseCidr(text.trim()),
    (text) => `invalid address or CIDR "${text}"`,
  ),
);

// A single value or a list; made a list before validation so errors name the exact element. An
// empty list (`state: []`) would match nothing and so turn its rule off with no word said: refused.
const oneOrMany = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(item).min(1, 'an empty list matches nothing: give at least one value, or leave the key out'));

const matchSchema = z
  .strictObject({
    'local-port': oneOrMany(portRange).optional(),
    'remote-port': oneOrMany(portRange).optional(),
    'local-address': oneOrMany(cidr).optional(),
    'remote-address': oneOrMany(cidr).optional(),
    process: oneOrMany(processPattern).optional(),
    state: oneOrMany(stateName).optional(),
  })
  .transform((m): ConnectionMatch => {
    const result: ConnectionMatch = {};
    if (m['local-port']) result.localPorts = m['local-port'];
    if (m['remote-port']) result.remotePorts = m['remote-port'];
    if (m['local-address']) result.localAddresses = m['local-address'];
    if (m['remote-address']) result.remoteAddresses = m['remote-address'];
    if (m.process) result.processes = m.process;
    if (m.state) result.states = m.state;
    return result;
  });

const ruleSchema = z.strictObject({
  name: z.string().min(1),
  match: matchSchema,
  thresholds: thresholdsSchema.optional(),
  critical: thresholdsSchema.optional(),
});

const countSchema = z.strictObject({
  name: z.string().min(1),
  state: oneOrMany(stateName),
  per: z.enum(['process', 'local-port', 'remote-address', 'remote']),
  warning: z.number().int().nonnegative(),
  critical: z.number().int().nonnegative().optional(),
  match: matchSchema.optional(),
});

/**
 * A count rule's name keys its alerts (`count RULE GROUP`) and its Nagios perfdata label: two rules
 * of one name would report as one, so the second is an error.
 */
function distinctCountNames(counts: readonly { name: string }[], ctx: z.RefinementCtx): void {
  const first = new Map<string, number>();
  counts.forEach((c, index) => {
    const earlier = first.get(c.name);
    if (earlier === undefined) first.set(c.name, index);
    else ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `count rule name "${c.name}" is already used by counts[${earlier}]; each count rule needs its own name` });
  });
}

const notifierSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('exec'), command: z.array(z.string().min(1)).min(1), timeout: timerValue.optional() }),
  z.strictObject({
    type: z.literal('webhook'),
    url: z.string().refine((u) => /^https?:\/\/[^\s]+$/.test(u), 'must be an http:// or https:// URL'),
    headers: z.record(z.string(), z.string()).optional(),
    timeout: timerValue.optional(),
    retries: z.number().int().min(0).max(10).optional(),
  }),
  z.strictObject({
    type: z.literal('syslog'),
    facility: z.enum(['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7']).optional(),
    tag: z
      .string()
      .regex(/^[\w.-]+$/, 'letters, digits, . _ - only')
      .optional(),
    socket: z.string().optional(),
  }),
]);

export type NotifierConfig = z.output<typeof notifierSchema>;

const configSchema = z.strictObject({
  preset: z.enum(PRESET_NAMES as [PresetName, ...PresetName[]]).optional(),
  thresholds: thresholdsSchema.optional(),
  critical: thresholdsSchema.optional(),
  rules: z.array(ruleSchema).optional(),
  counts: z.array(countSchema).superRefine(distinctCountNames).optional(),
  notify: z.array(notifierSchema).optional(),
});

export interface ConfigFile {
  preset?: PresetName;
  warning: PartialThresholds;
  critical: PartialThresholds;
  rules: SessionRule[];
  counts: CountRule[];
  notifiers: NotifierConfig[];
}

/**
 * Aliases expanded at most this many times in all. A real config needs a handful; a "billion
 * laughs" file (aliases of aliases, each level multiplying the last) needs millions.
 */
export const MAX_ALIAS_COUNT = 100;

/** The document as plain data; an unresolved or excessive alias is a ConfigError on the first alias's line. */
function configData(doc: Document, lineCounter: LineCounter, fileName: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (error) {
    let offset: number | undefined;
    visit(doc, {
      Alias(_key, node) {
        offset = node.range?.[0];
        return visit.BREAK;
      },
    });
    const line = offset === undefined ? 1 : lineCounter.linePos(offset).line;
    const message = (error as Error).message;
    const why = /alias count/i.test(message) ? `YAML aliases expand more than ${MAX_ALIAS_COUNT} times (an alias bomb?); write the values out` : message.split('\n')[0];
    throw new ConfigError(`${fileName}:${line}: ${why}`, { cause: error });
  }
}

/** Parses config text; throws ConfigError naming the file, line and field of the first problem. */
export function parseConfig(text: string, fileName: string): ConfigFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntaxError = doc.errors[0];
  if (syntaxError) {
    const line = lineCounter.linePos(syntaxError.pos[0]).line;
    throw new ConfigError(`${fileName}:${line}: ${syntaxError.message.split('\n')[0]}`);
  }
  const data = configData(doc, lineCounter, fileName);
  const result = configSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    // An unknown key is best shown on its own line, not its parent's.
    const line = lineOf(doc, lineCounter, issue.code === 'unrecognized_keys' ? [...path, issue.keys[0] ?? ''] : path);
    const field = path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
      .join('')
      .replace(/^\./, '');
    throw new ConfigError(`${fileName}:${line}: ${field || '(top level)'}: ${describeIssue(issue)}`);
  }
  const config = result.data;
  const out: ConfigFile = {
    warning: config.thresholds ?? {},
    critical: config.critical ?? {},
    rules: (config.rules ?? []).map((r) => ({ name: r.name, match: r.match, warning: r.thresholds ?? {}, critical: r.critical ?? {} })),
    counts: (config.counts ?? []).map((c) => {
      const rule: CountRule = { name: c.name, states: c.state as TcpState[], per: c.per, warningAbove: c.warning };
      if (c.critical !== undefined) rule.criticalAbove = c.critical;
      if (c.match) rule.match = c.match;
      return rule;
    }),
    notifiers: config.notify ?? [],
  };
  if (config.preset) out.preset = config.preset;
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return issue.message;
}

// The deepest node on the path that exists in the document gives the line.
function lineOf(doc: Document, lineCounter: LineCounter, path: (string | number)[]): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return 1;
}
