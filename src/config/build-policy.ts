import { defaultPolicy, type PartialThresholds, type Policy, type PresetName } from '../core/policy.js';
import { TcpState } from '../core/tcp-state.js';
import type { ConfigFile } from './parse-config.js';

// The policy from a parsed config file and the threshold flags; apart from the parser, so a run
// without --config does not load the YAML and zod libraries.

export interface ThresholdOverrides {
  preset?: PresetName;
  warning: PartialThresholds;
  critical: PartialThresholds;
}

/**
 * The policy in force: preset (flag, else config, else ios) ← config thresholds ← command-line
 * thresholds. A command-line class threshold replaces the per-state values of that class too,
 * so `--preset conntrack --half-close 1m` means 1 min for every half-close state.
 */
export function buildPolicy(config: ConfigFile | undefined, overrides: ThresholdOverrides): Policy {
  const policy = defaultPolicy(overrides.preset ?? config?.preset ?? 'ios');
  if (config) {
    mergeInto(policy.warning, config.warning);
    policy.critical = { ...config.critical, perStateMs: { ...config.critical.perStateMs } };
    policy.rules = config.rules;
    policy.counts = config.counts;
  }
  mergeInto(policy.warning, overrides.warning, true);
  mergeInto(policy.critical, overrides.critical, true);
  return policy;
}

const CLASS_STATES: Record<'halfOpenMs' | 'halfCloseMs' | 'idleMs', TcpState[]> = {
  halfOpenMs: [TcpState.SYN_SENT, TcpState.SYN_RECEIVED],
  halfCloseMs: [TcpState.FIN_WAIT_1, TcpState.FIN_WAIT_2, TcpState.CLOSE_WAIT, TcpState.CLOSING, TcpState.LAST_ACK],
  idleMs: [TcpState.ESTABLISHED],
};

function mergeInto(target: PartialThresholds, source: PartialThresholds, classReplacesStates = false): void {
  for (const field of ['halfOpenMs', 'halfCloseMs', 'idleMs'] as const) {
    const value = source[field];
    if (value === undefined) continue;
    target[field] = value;
    if (classReplacesStates && target.perStateMs) for (const state of CLASS_STATES[field]) delete target.perStateMs[state];
  }
  if (source.perStateMs) target.perStateMs = { ...target.perStateMs, ...source.perStateMs };
}
