import { cidrContains, formatEndpoint, type Cidr } from './address.js';
import { ownerLabel, socketsOf, type SocketRow } from './connection.js';
import { TcpState, sessionClassOf } from './tcp-state.js';

// Thresholds and the rules that pick them, after Cisco's parameter maps: one set of timers per
// class of traffic, the first matching rule wins, a default set for everything else (docs/tcp-facts.md#session-classes).

export type FlagKind = 'half-open' | 'half-close' | 'idle' | 'count';
export type Severity = 'warning' | 'critical';

/** Severities in order, for comparing them: critical outranks warning. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { warning: 1, critical: 2 };
export type TimedFlagKind = Exclude<FlagKind, 'count'>;

/** Milliseconds per class; Infinity switches a check off. `perStateMs` overrides its class for one state. */
export interface Thresholds {
  halfOpenMs: number;
  halfCloseMs: number;
  idleMs: number;
  perStateMs: Partial<Record<TcpState, number>>;
}

export type PartialThresholds = Partial<Omit<Thresholds, 'perStateMs'>> & { perStateMs?: Partial<Record<TcpState, number>> };

export interface PortRange {
  from: number;
  to: number;
}

/** All given fields must match; within a field, any listed value. */
export interface ConnectionMatch {
  localPorts?: PortRange[];
  remotePorts?: PortRange[];
  localAddresses?: Cidr[];
  remoteAddresses?: Cidr[];
  /** Process names; `*` matches any run of characters. */
  processes?: string[];
  states?: TcpState[];
}

export interface SessionRule {
  name: string;
  match: ConnectionMatch;
  warning: PartialThresholds;
  critical: PartialThresholds;
}

export type CountGrouping = 'process' | 'local-port' | 'remote-address' | 'remote';

/** "More than N sockets in these states per process/port/peer": a leak shows as many, not one. */
export interface CountRule {
  name: string;
  states: TcpState[];
  per: CountGrouping;
  warningAbove: number;
  criticalAbove?: number;
  match?: ConnectionMatch;
}

export interface Policy {
  warning: Thresholds;
  critical: PartialThresholds;
  rules: SessionRule[];
  counts: CountRule[];
}

const SECOND = 1000;

/** Reference timers (docs/tcp-facts.md#session-classes) and Linux netfilter's per-state conntrack timeouts. */
export const PRESETS = {
  ios: { halfOpenMs: 30 * SECOND, halfCloseMs: 30 * SECOND, idleMs: 3600 * SECOND, perStateMs: {} },
  asa: { halfOpenMs: 30 * SECOND, halfCloseMs: 600 * SECOND, idleMs: 3600 * SECOND, perStateMs: {} },
  // nf_conntrack_tcp_timeout_*: syn_sent 120, syn_recv 60, established 432000, fin_wait 120,
  // close_wait 60, last_ack 30 (closing is tracked as fin_wait's neighbour; 120).
  conntrack: {
    halfOpenMs: 120 * SECOND,
    halfCloseMs: 120 * SECOND,
    idleMs: 432_000 * SECOND,
    perStateMs: { [TcpState.SYN_RECEIVED]: 60 * SECOND, [TcpState.CLOSE_WAIT]: 60 * SECOND, [TcpState.LAST_ACK]: 30 * SECOND },
  },
} as const satisfies Record<string, Thresholds>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export function defaultPolicy(preset: PresetName = 'ios'): Policy {
  const base = PRESETS[preset];
  return { warning: { ...base, perStateMs: { ...base.perStateMs } }, critical: { perStateMs: {} }, rules: [], counts: [] };
}

export interface Flag {
  kind: TimedFlagKind;
  severity: Severity;
  thresholdMs: number;
  /** The measured value the threshold was compared with (dwell, half-close timer, idle; or a count). */
  measured: number;
  rule: string;
}

/** The inputs a rule needs about one connection at one moment. */
export interface Measures {
  row: SocketRow;
  dwellMs: number;
  halfCloseTimerMs: number;
  idleMs?: number;
}

export function findRule(policy: Policy, row: SocketRow): SessionRule | undefined {
  // A loop, not find(): no closure a call (evaluated for every connection at every poll).
  const rules = policy.rules;
  for (let i = 0; i < rules.length; i++) if (matches(rules[i]!.match, row)) return rules[i];
  return undefined;
}

/** Flags one connection against the first rule that matches it, or the defaults. */
export function evaluateConnection(policy: Policy, measures: Measures): Flag | undefined {
  if (!judge(policy, measures)) return undefined;
  return { kind: judged.kind, severity: judged.severity, thresholdMs: judged.thresholdMs, measured: judged.measured, rule: judged.rule };
}

/**
 * Whether a connection whose dwell is proven only as a lower bound (`measures.dwellMs`) would be
 * judged more severe (flagged where it is not, critical where it is a warning) were its dwell as long
 * as `dwellAtMostMs` (Infinity: nothing bounds it): the part of its dwell not proven could then
 * change its verdict. Only rules on dwell (half-open) read it.
 */
export function dwellCouldRaiseSeverity(policy: Policy, measures: Measures, dwellAtMostMs: number): boolean {
  const proven = evaluateConnection(policy, measures)?.severity;
  const atMost = evaluateConnection(policy, { ...measures, dwellMs: Math.max(measures.dwellMs, dwellAtMostMs) })?.severity;
  return (atMost === undefined ? 0 : SEVERITY_RANK[atMost]) > (proven === undefined ? 0 : SEVERITY_RANK[proven]);
}

/**
 * evaluateConnection's answer written into `into` instead of a new object: true when flagged
 * (`into` then holds the flag), false when not (`into` unchanged). For a pass that reuses one
 * object for every connection (forEachEvaluated): at 86,000 flagged sessions a Flag each was
 * ~5 MB a poll, promoted as V8 pretenured the allocation site (issue 15).
 */
export function evaluateConnectionInto(policy: Policy, measures: Measures, into: Flag): boolean {
  if (!judge(policy, measures)) return false;
  into.kind = judged.kind;
  into.severity = judged.severity;
  into.thresholdMs = judged.thresholdMs;
  into.measured = judged.measured;
  into.rule = judged.rule;
  return true;
}

/** The last flag `judge` found (one object for the module: nothing is made a connection). */
const judged: Flag = { kind: 'idle', severity: 'warning', thresholdMs: 0, measured: 0, rule: '' };

/** Whether the connection is flagged; if so `judged` holds the flag. */
function judge(policy: Policy, measures: Measures): boolean {
  return judgeUnder(policy, measures, findRule(policy, measures.row));
}

/**
 * The severity a flag on a connection whose owner could not be read is proven at, whatever that
 * owner is: the lowest it gets under each rule its owner could make apply (each rule on process
 * names whose other fields match it, up to the first rule without process names that matches it,
 * else the defaults); undefined when one of those leaves it unflagged. Rules are first-match
 * (README "Thresholds, rules and presets"), so a hidden owner may pick any of them.
 */
export function severityWhateverOwner(policy: Policy, measures: Measures): Severity | undefined {
  const { row } = measures;
  let lowest: Severity | undefined;
  const under = (rule: SessionRule | undefined): boolean => {
    if (!judgeUnder(policy, measures, rule)) return false;
    if (lowest !== 'warning') lowest = judged.severity;
    return true;
  };
  for (const rule of policy.rules) {
    if (rule.match.processes) {
      if (matches({ ...rule.match, processes: undefined }, row) && !under(rule)) return undefined;
    } else if (matches(rule.match, row)) {
      return under(rule) ? lowest : undefined;
    }
  }
  return under(undefined) ? lowest : undefined;
}

/**
 * The highest severity a connection whose owner could not be read may be flagged at, whatever that
 * owner is (severityWhateverOwner's other end): the highest under each rule its owner could make
 * apply, up to the first rule without process names that matches it, else the defaults; undefined
 * when none of them flags it.
 */
export function severityAnyOwner(policy: Policy, measures: Measures): Severity | undefined {
  const { row } = measures;
  let highest: Severity | undefined;
  const under = (rule: SessionRule | undefined): void => {
    if (judgeUnder(policy, measures, rule) && highest !== 'critical') highest = judged.severity;
  };
  for (const rule of policy.rules) {
    if (rule.match.processes) {
      if (matches({ ...rule.match, processes: undefined }, row)) under(rule);
    } else if (matches(rule.match, row)) {
      under(rule);
      return highest;
    }
  }
  under(undefined);
  return highest;
}

/** judge, under `rule` (undefined: the defaults). */
function judgeUnder(policy: Policy, measures: Measures, rule: SessionRule | undefined): boolean {
  const { row } = measures;
  let kind: TimedFlagKind;
  let value: number;
  switch (sessionClassOf(row.state)) {
    case 'half-open':
      kind = 'half-open';
      value = measures.dwellMs;
      break;
    case 'half-close':
      kind = 'half-close';
      value = measures.halfCloseTimerMs;
      break;
    case 'established':
      if (measures.idleMs === undefined) return false;
      kind = 'idle';
      value = measures.idleMs;
      break;
    default:
      return false;
  }
  const warningMs = thresholdFor(kind, row.state, rule?.warning, policy.warning);
  const criticalMs = thresholdFor(kind, row.state, rule?.critical, policy.critical);
  let severity: Severity;
  let thresholdMs: number;
  if (criticalMs !== undefined && value > criticalMs) {
    severity = 'critical';
    thresholdMs = criticalMs;
  } else if (warningMs !== undefined && value > warningMs) {
    severity = 'warning';
    thresholdMs = warningMs;
  } else return false;
  judged.kind = kind;
  judged.severity = severity;
  judged.thresholdMs = thresholdMs;
  judged.measured = value;
  judged.rule = rule?.name ?? 'default';
  return true;
}

const CLASS_FIELD: Record<TimedFlagKind, 'halfOpenMs' | 'halfCloseMs' | 'idleMs'> = {
  'half-open': 'halfOpenMs',
  'half-close': 'halfCloseMs',
  idle: 'idleMs',
};

/** The rule's value for this state, else its class value, else the defaults'. Infinity = off. */
function thresholdFor(kind: TimedFlagKind, state: TcpState, ruleLevel: PartialThresholds | undefined, base: PartialThresholds): number | undefined {
  const field = CLASS_FIELD[kind];
  const value = ruleLevel?.perStateMs?.[state] ?? ruleLevel?.[field] ?? base.perStateMs?.[state] ?? base[field];
  return value === undefined || value === Infinity ? undefined : value;
}

/**
 * The lowest threshold any rule or the defaults could apply to a connection in `state` (warning or
 * critical; rules that match other states left out), whatever its ports, addresses and owner:
 * a measure at or below it is flagged by none of them (judge flags only a measure above its
 * threshold). Undefined when no threshold applies to the state at all (its class is never flagged,
 * or every threshold is off).
 */
export function lowestThresholdMs(policy: Policy, state: TcpState): number | undefined {
  const kind = CLASS_KIND[sessionClassOf(state)];
  if (!kind) return undefined;
  let lowest: number | undefined;
  const consider = (ms: number | undefined) => {
    if (ms !== undefined && (lowest === undefined || ms < lowest)) lowest = ms;
  };
  consider(thresholdFor(kind, state, undefined, policy.warning));
  consider(thresholdFor(kind, state, undefined, policy.critical));
  for (const rule of policy.rules) {
    if (rule.match.states && !rule.match.states.includes(state)) continue;
    consider(thresholdFor(kind, state, rule.warning, policy.warning));
    consider(thresholdFor(kind, state, rule.critical, policy.critical));
  }
  return lowest;
}

/** The thresholds that apply to a row and the rule they come from (for `explain`). */
export function thresholdsFor(policy: Policy, row: SocketRow): { kind: TimedFlagKind; warningMs?: number; criticalMs?: number; rule: string } | undefined {
  const kind = CLASS_KIND[sessionClassOf(row.state)];
  if (!kind) return undefined;
  const rule = findRule(policy, row);
  const result: { kind: TimedFlagKind; warningMs?: number; criticalMs?: number; rule: string } = { kind, rule: rule?.name ?? 'default' };
  const warningMs = thresholdFor(kind, row.state, rule?.warning, policy.warning);
  const criticalMs = thresholdFor(kind, row.state, rule?.critical, policy.critical);
  if (warningMs !== undefined) result.warningMs = warningMs;
  if (criticalMs !== undefined) result.criticalMs = criticalMs;
  return result;
}

const CLASS_KIND: Partial<Record<ReturnType<typeof sessionClassOf>, TimedFlagKind>> = { 'half-open': 'half-open', 'half-close': 'half-close', established: 'idle' };

export function matches(match: ConnectionMatch | undefined, row: SocketRow): boolean {
  if (!match) return true;
  const inRanges = (ranges: PortRange[] | undefined, port: number) => !ranges || ranges.some((r) => port >= r.from && port <= r.to);
  const inCidrs = (cidrs: Cidr[] | undefined, address: string) => !cidrs || cidrs.some((c) => cidrContains(c, address));
  return (
    inRanges(match.localPorts, row.local.port) &&
    inRanges(match.remotePorts, row.remote.port) &&
    inCidrs(match.localAddresses, row.local.address) &&
    inCidrs(match.remoteAddresses, row.remote.address) &&
    (!match.states || match.states.includes(row.state)) &&
    (!match.processes || (row.process !== undefined && match.processes.some((p) => globMatches(p, row.process!))))
  );
}

function globMatches(pattern: string, text: string): boolean {
  if (!pattern.includes('*')) return pattern === text;
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return regex.test(text);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Whether this row's owner can change what the policy says of it: a rule on process names that
 * matches it but for the process, in a state a threshold applies to (rules are tried in order, so
 * such a rule may also pre-empt the rules after it), or a count per process or on process names
 * over its state. An owner that could not be read (fds denied) leaves a verdict unproven only for
 * such rows: a LISTEN or TIME_WAIT row is never flagged by a timed rule, whoever holds it.
 */
export function ownerCanChangeVerdict(policy: Policy, row: SocketRow): boolean {
  const withoutProcesses = (match: ConnectionMatch | undefined) => matches(match && { ...match, processes: undefined }, row);
  if (CLASS_KIND[sessionClassOf(row.state)] !== undefined && policy.rules.some((r) => r.match.processes !== undefined && withoutProcesses(r.match))) return true;
  return policy.counts.some((c) => (c.per === 'process' || c.match?.processes !== undefined) && c.states.includes(row.state) && withoutProcesses(c.match));
}

/**
 * The highest severity the count rules could give some group were the owners of `unread` (rows
 * whose owner could not be read: in no per-process group, matching no process name) known; undefined
 * when no assignment of owners can flag anything. `rows`: every row, `unread` among them. Only what
 * the data proves: a per-process rule's unread rows could all be one process's (the largest group's,
 * or a new one's), so its bound is the largest group plus them; a rule grouped otherwise whose match
 * names processes could count each unread row in its own group (the row's port or peer), so its
 * bound is that group plus its unread rows.
 */
export function countReachOfUnreadOwners(policy: Policy, rows: ReadonlyArray<{ key: string; row: SocketRow }>, unread: ReadonlyArray<SocketRow>): Severity | undefined {
  let reach: Severity | undefined;
  for (const rule of policy.counts) {
    if (rule.per !== 'process' && rule.match?.processes === undefined) continue;
    const withoutProcesses = rule.match && { ...rule.match, processes: undefined };
    const candidates = unread.filter((row) => rule.states.includes(row.state) && matches(withoutProcesses, row));
    if (candidates.length === 0) continue;
    const groups = groupsOf(rule, rows);
    let bound = 0;
    if (rule.per === 'process') {
      for (const members of groups.values()) bound = Math.max(bound, members.length);
      // Every socket a candidate stands for (an SO_REUSEPORT group's listeners too) may be unread.
      for (const row of candidates) bound += socketsOf(row);
    } else {
      const added = new Map<string, number>();
      for (const row of candidates) {
        const group = groupKeyOf(rule.per, row)!;
        added.set(group, (added.get(group) ?? 0) + socketsOf(row));
      }
      for (const [group, n] of added) bound = Math.max(bound, (groups.get(group)?.length ?? 0) + n);
    }
    if (rule.criticalAbove !== undefined && bound > rule.criticalAbove) return 'critical';
    if (bound > rule.warningAbove) reach = 'warning';
  }
  return reach;
}

/**
 * Whether a socket left without an owner by a lookup that could not read every process leaves the
 * verdict unproven: it has none, the source did not read its inode as 0 (`sourceInode`: no file
 * holds such a socket, so there is no owner to find; undefined, a source without inodes, proves
 * nothing: no default, as an undefined argument would take it), and
 * its owner could change what the policy says (ownerCanChangeVerdict).
 */
export function unreadOwnerMatters(policy: Policy, row: SocketRow, sourceInode: number | undefined): boolean {
  return row.process === undefined && sourceInode !== 0 && ownerCanChangeVerdict(policy, row);
}

/** Whether any part of the policy needs process names for every row (not only shown ones). */
export function policyNeedsProcesses(policy: Policy): boolean {
  const uses = (m: ConnectionMatch | undefined) => m?.processes !== undefined;
  return policy.rules.some((r) => uses(r.match)) || policy.counts.some((c) => c.per === 'process' || uses(c.match));
}

export interface CountFlag {
  kind: 'count';
  rule: string;
  per: CountGrouping;
  /** The group: a process name, `127.0.0.1:5432`, an address. */
  group: string;
  states: TcpState[];
  count: number;
  severity: Severity;
  thresholdCount: number;
  /** Keys of the connections in the group. */
  members: string[];
}

export function groupKeyOf(per: CountGrouping, row: SocketRow): string | undefined {
  switch (per) {
    case 'process':
      return row.process === undefined ? undefined : (ownerLabel(row) ?? row.process);
    case 'local-port':
      return String(row.local.port);
    case 'remote-address':
      return row.remote.address;
    case 'remote':
      return formatEndpoint(row.remote);
  }
}

/**
 * The name a count flag gives a listener of an SO_REUSEPORT group other than its row's
 * (SocketRow.sharingPort[index]): the row's key and the member's inode (`tcp 0.0.0.0 7100 0.0.0.0 0
 * inode 4711`), or its place in the group where the source gives no inode (`… member 2`, 1 being the row).
 */
export function sharingMemberKey(key: string, member: SocketRow, index: number): string {
  return member.inode !== undefined ? `${key} inode ${member.inode}` : `${key} member ${index + 2}`;
}

/**
 * The rule's groups (group key → member keys) among `rows`: those in its states that match it.
 * A row standing for an SO_REUSEPORT group counts each of its listeners (SocketRow.sharingPort),
 * each matched and grouped by its own fields (its owner for `per: process`), named by sharingMemberKey.
 */
function groupsOf(rule: CountRule, rows: ReadonlyArray<{ key: string; row: SocketRow }>): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  const add = (key: string, row: SocketRow) => {
    if (!rule.states.includes(row.state) || !matches(rule.match, row)) return;
    const group = groupKeyOf(rule.per, row);
    if (group === undefined) return;
    const members = groups.get(group);
    if (members) members.push(key);
    else groups.set(group, [key]);
  };
  for (const { key, row } of rows) {
    add(key, row);
    const sharing = row.sharingPort;
    if (sharing !== undefined) for (let i = 0; i < sharing.length; i++) add(sharingMemberKey(key, sharing[i]!, i), sharing[i]!);
  }
  return groups;
}

/** A count rule's levels and the value they are compared with: its largest group's size now. */
export interface CountLevel {
  rule: string;
  /** The largest group's count (0 when no connection is in the rule's states). */
  largest: number;
  /** A group larger than this is a warning. */
  warningAbove: number;
  /** A group larger than this is critical; undefined when the rule sets no critical level. */
  criticalAbove?: number;
}

/**
 * Each count rule's largest group among `rows`, in policy order. A rule is over its limit exactly
 * when its largest group is (evaluateCounts), so this one number per rule carries the rule's
 * levels (Nagios perfdata warn/crit).
 */
export function countLevels(policy: Policy, rows: ReadonlyArray<{ key: string; row: SocketRow }>): CountLevel[] {
  return policy.counts.map((rule) => {
    let largest = 0;
    for (const members of groupsOf(rule, rows).values()) largest = Math.max(largest, members.length);
    const level: CountLevel = { rule: rule.name, largest, warningAbove: rule.warningAbove };
    if (rule.criticalAbove !== undefined) level.criticalAbove = rule.criticalAbove;
    return level;
  });
}

export function evaluateCounts(policy: Policy, rows: ReadonlyArray<{ key: string; row: SocketRow }>): CountFlag[] {
  const flags: CountFlag[] = [];
  for (const rule of policy.counts) {
    for (const [group, members] of groupsOf(rule, rows)) {
      const count = members.length;
      const critical = rule.criticalAbove !== undefined && count > rule.criticalAbove;
      if (!critical && count <= rule.warningAbove) continue;
      flags.push({
        kind: 'count',
        rule: rule.name,
        per: rule.per,
        group,
        states: rule.states,
        count,
        severity: critical ? 'critical' : 'warning',
        thresholdCount: critical ? rule.criticalAbove! : rule.warningAbove,
        members,
      });
    }
  }
  return flags.sort((a, b) => b.count - a.count);
}
