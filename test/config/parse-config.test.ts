import { describe, expect, it } from 'vitest';
import { ConfigError, buildPolicy, parseConfig } from '../../src/config/parse-config.js';

const YAML_CONFIG = `# thresholds per traffic class, like Cisco parameter maps
preset: asa
thresholds:
  idle: 2h
  states:
    CLOSE_WAIT: 5m
critical:
  half-close: 1h
rules:
  - name: postgres
    match:
      local-port: [5432, "6000-6010"]
      remote-address: [10.0.0.0/8, "fd00::/8"]
      process: postgres
    thresholds: { idle: 8h }
    critical: { idle: off }
counts:
  - name: close-wait-leak
    state: close-wait
    per: process
    warning: 100
    critical: 1000
`;

describe('parseConfig', () => {
  it('reads YAML with rules, ranges, CIDRs, per-state thresholds and counts', () => {
    const config = parseConfig(YAML_CONFIG, 'tcpdwell.yaml');
    expect(config.preset).toBe('asa');
    expect(config.warning).toEqual({ idleMs: 7_200_000, perStateMs: { CLOSE_WAIT: 300_000 } });
    expect(config.critical).toEqual({ halfCloseMs: 3_600_000 });
    expect(config.rules[0]).toMatchObject({
      name: 'postgres',
      match: {
        localPorts: [
          { from: 5432, to: 5432 },
          { from: 6000, to: 6010 },
        ],
        processes: ['postgres'],
      },
      warning: { idleMs: 28_800_000 },
      critical: { idleMs: Infinity },
    });
    expect(config.rules[0]!.match.remoteAddresses).toHaveLength(2);
    expect(config.counts).toEqual([{ name: 'close-wait-leak', states: ['CLOSE_WAIT'], per: 'process', warningAbove: 100, criticalAbove: 1000 }]);
  });

  it('reads the same from JSON', () => {
    const json = JSON.stringify({ thresholds: { 'half-open': 10, 'half-close': '1m' }, rules: [{ name: 'x', match: { 'remote-port': 443 } }] }, null, 2);
    const config = parseConfig(json, 'c.json');
    expect(config.warning).toEqual({ halfOpenMs: 10_000, halfCloseMs: 60_000 });
    expect(config.rules[0]!.match.remotePorts).toEqual([{ from: 443, to: 443 }]);
  });

  it.each([
    ['thresholds:\n  idle: 2 hours\n', 'c.yaml:2: thresholds.idle: invalid duration "2 hours"'],
    ['rules:\n  - name: a\n    match:\n      local-port: [80, 70000]\n', 'c.yaml:4: rules[0].match.local-port[1]: invalid port or range "70000"'],
    ['rules:\n  - name: a\n    match: {}\n    thresholdz: {}\n', 'c.yaml:4: rules[0]: unknown field "thresholdz"'],
    ['counts:\n  - name: a\n    state: CLOSE_WAIT\n    per: process\n', 'c.yaml:2: counts[0].warning:'],
    ['counts:\n  - {name: a, state: HALF_DEAD, per: process, warning: 1}\n', 'c.yaml:2: counts[0].state[0]: unknown state "HALF_DEAD"'],
    // Written for the test (breaker 7): two count rules of one name would share alert keys and a perfdata label.
    [
      'counts:\n  - {name: dup, state: CLOSE_WAIT, per: process, warning: 1}\n  - {name: other, state: LAST_ACK, per: process, warning: 1}\n  - {name: dup, state: FIN_WAIT_2, per: remote, warning: 5}\n',
      'c.yaml:4: counts[2].name: count rule name "dup" is already used by counts[0]; each count rule needs its own name',
    ],
    ['preset: cisco\n', 'c.yaml:1: preset:'],
    ['rules:\n  - name: a\n    match:\n      remote-address: 10.0.0.0/40\n', 'c.yaml:4: rules[0].match.remote-address[0]: invalid address or CIDR "10.0.0.0/40"'],
    ['thresholds: [\n', 'c.yaml:'],
    ['a: 1\na: 2\n', 'c.yaml:2:'],
    // Notifier timeouts are timers: past 2^31 - 1 ms one fires after 1 ms, and "off" would never fire.
    ['notify:\n  - { type: webhook, url: "http://127.0.0.1:9/x", timeout: 25d }\n', 'c.yaml:2: notify[0].timeout: duration "25d" is too long: a wait can be at most 24 days'],
    ['notify:\n  - { type: exec, command: [/bin/true], timeout: 2147484s }\n', 'c.yaml:2: notify[0].timeout: duration "2147484s" is too long'],
    ['notify:\n  - { type: exec, command: [/bin/true], timeout: off }\n', 'c.yaml:2: notify[0].timeout: invalid duration "off"'],
    // An empty list would match nothing and turn its rule off with no word said.
    ['rules:\n  - name: a\n    match:\n      state: []\n', 'c.yaml:4: rules[0].match.state: an empty list matches nothing: give at least one value, or leave the key out'],
    ['rules:\n  - name: a\n    match: { local-port: [], process: postgres }\n', 'c.yaml:3: rules[0].match.local-port: an empty list matches nothing'],
    ['rules:\n  - name: a\n    match: { remote-address: [] }\n', 'c.yaml:3: rules[0].match.remote-address: an empty list matches nothing'],
    ['counts:\n  - {name: a, state: [], per: process, warning: 1}\n', 'c.yaml:2: counts[0].state: an empty list matches nothing'],
    ['counts:\n  - {name: a, state: CLOSE_WAIT, per: process, warning: 1, match: {process: []}}\n', 'c.yaml:2: counts[0].match.process: an empty list matches nothing'],
    // A near miss of off is named.
    ['thresholds:\n  idle: of\n', 'c.yaml:2: thresholds.idle: invalid duration "of" (did you mean off?)'],
  ])('names file, line and field: %j', (text, message) => {
    expect(() => parseConfig(text, 'c.yaml')).toThrow(ConfigError);
    expect(() => parseConfig(text, 'c.yaml')).toThrow(message);
  });

  it('takes off in any case for every threshold', () => {
    const config = parseConfig(
      'thresholds:\n  idle: OFF\n  states: { CLOSE_WAIT: Off }\ncritical:\n  half-close: oFf\nrules:\n  - { name: a, match: { state: LISTEN }, thresholds: { half-open: OFF } }\n',
      'c.yaml',
    );
    expect(config.warning).toEqual({ idleMs: Infinity, perStateMs: { CLOSE_WAIT: Infinity } });
    expect(config.critical).toEqual({ halfCloseMs: Infinity });
    expect(config.rules[0]!.warning).toEqual({ halfOpenMs: Infinity });
  });

  it('gives JSON syntax errors a line too', () => {
    expect(() => parseConfig('{\n  "thresholds": {\n    "idle": "1h",,\n  }\n}', 'c.json')).toThrow(/^c\.json:3: /);
  });
});

describe('parseConfig: hostile YAML', () => {
  // Written for the test: the classic "billion laughs" shape (each level nine aliases of the
  // last), nine levels deep = 9^9 strings if expanded.
  const levels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
  const BOMB = levels
    .map((name, i) =>
      i === 0
        ? `${name}: &${name} ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]`
        : `${name}: &${name} [${Array(9)
            .fill(`*${levels[i - 1]}`)
            .join(',')}]`,
    )
    .join('\n');

  const errorOf = (text: string) => {
    try {
      parseConfig(text, 'bomb.yaml');
    } catch (error) {
      return error;
    }
    return undefined;
  };

  it('an alias bomb is a ConfigError (exit 78) on the line of the first alias, not a crash', () => {
    const error = errorOf(BOMB);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe('bomb.yaml:2: YAML aliases expand more than 100 times (an alias bomb?); write the values out');
  });

  it('an alias of an alias past the cap, in a field tcpdwell reads, is refused the same way', () => {
    // Written for the test: a port list of 11 aliases, repeated by 11 rules (121 expansions).
    const rules = Array.from({ length: 11 }, (_, i) => `  - { name: r${i}, match: { local-port: *ports } }`).join('\n');
    const text = `p: &p 1\nx: &ports [${Array(11).fill('*p').join(', ')}]\nrules:\n${rules}\n`;
    expect(errorOf(text)).toBeInstanceOf(ConfigError);
  });

  it('a few aliases, as a real config uses them, still work', () => {
    const text = 'thresholds: &db { idle: 8h }\nrules:\n  - { name: pg, match: { local-port: 5432 }, thresholds: *db }\n  - { name: my, match: { local-port: 3306 }, thresholds: *db }\n';
    const config = parseConfig(text, 'ok.yaml');
    expect(config.rules.map((r) => r.warning)).toEqual([{ idleMs: 8 * 3_600_000 }, { idleMs: 8 * 3_600_000 }]);
  });

  it('an alias with no anchor is a ConfigError naming it, not a crash', () => {
    const error = errorOf('thresholds:\n  idle: 1h\ncritical: *nowhere\n');
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^bomb\.yaml:3: Unresolved alias[^\n]*nowhere$/);
  });
});

describe('buildPolicy', () => {
  it('layers preset ← config ← command line; a command-line class value replaces that class per-state values', () => {
    const config = parseConfig('preset: conntrack\nthresholds:\n  idle: 2h\n', 'c.yaml');
    const policy = buildPolicy(config, { warning: { halfCloseMs: 60_000 }, critical: { idleMs: 86_400_000 } });
    expect(policy.warning).toMatchObject({ halfOpenMs: 120_000, halfCloseMs: 60_000, idleMs: 7_200_000 });
    expect(policy.warning.perStateMs).toEqual({ SYN_RECEIVED: 60_000 }); // CLOSE_WAIT / LAST_ACK overrides gone
    expect(policy.critical.idleMs).toBe(86_400_000);
    expect(buildPolicy(config, { preset: 'ios', warning: {}, critical: {} }).warning.halfOpenMs).toBe(30_000);
    expect(buildPolicy(undefined, { warning: {}, critical: {} }).warning).toMatchObject({ halfOpenMs: 30_000, halfCloseMs: 30_000, idleMs: 3_600_000 });
  });
});

describe('parseConfig: per-state thresholds that would check nothing, or leave the winner to key order', () => {
  it('one state in two spellings is refused, naming both', () => {
    expect(() => parseConfig('thresholds:\n  states:\n    CLOSE_WAIT: 5m\n    close-wait: 1s\n', 'c.yaml')).toThrow('CLOSE_WAIT is given twice ("CLOSE_WAIT" and "close-wait"); give it once');
  });

  it('a state no dwell threshold can flag (LISTEN, TIME_WAIT) is refused; the timed states are taken', () => {
    expect(() => parseConfig('thresholds:\n  states:\n    LISTEN: 1s\n', 'c.yaml')).toThrow('LISTEN is never flagged by how long it lasts');
    expect(() => parseConfig('thresholds:\n  states:\n    time-wait: 1s\n', 'c.yaml')).toThrow('TIME_WAIT is never flagged by how long it lasts');
    const config = parseConfig('thresholds:\n  states:\n    syn-recv: 10s\n    CLOSE_WAIT: 5m\n    ESTABLISHED: 2h\n', 'c.yaml');
    expect(config.warning?.perStateMs).toEqual({ SYN_RECEIVED: 10_000, CLOSE_WAIT: 300_000, ESTABLISHED: 7_200_000 });
  });
});
