import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/parse-command-line.js';
import { ConfigError, parseConfig } from '../../src/config/parse-config.js';
import { parseFilterWord, parsePid, parsePortRange, parseStateWord } from '../../src/core/connection-filter.js';
import { connectionKey, type SocketRow } from '../../src/core/connection.js';
import type { ConnectionView } from '../../src/core/evaluate.js';
import { vocabularyTable, type StateVocabulary } from '../../src/core/state-vocabularies.js';
import { ALL_TCP_STATES, sessionClassOf, type TcpState } from '../../src/core/tcp-state.js';
import { compileFilter, filterNeedsOwners } from '../../src/dashboard/model.js';

// One grammar, three front ends: the command line (--state, --port), the config file (match.state,
// counts[].state, thresholds.states, match.local-port) and the dashboard's `/` filter must read each
// spelling the same way. The rows below are written for the test; each is one connection as the
// tracker hands it to the front ends.

function view(state: TcpState, localPort: number, remotePort: number, pid?: number): ConnectionView {
  const row: SocketRow = { protocol: 'tcp', local: { address: '10.0.0.1', port: localPort }, remote: { address: '10.0.0.9', port: remotePort }, state, rawState: state };
  if (pid !== undefined) row.pid = pid;
  return {
    connection: { key: connectionKey(row), row, firstSeenMs: 0, lastSeenMs: 0, stateSinceMs: 0, dwellSource: 'observed', transitions: [] },
    row,
    timing: { dwellMs: 1000, halfCloseTimerMs: 1000 },
  };
}

/** One view in every state, so a filter's meaning is the set of states it keeps. */
const ONE_PER_STATE = ALL_TCP_STATES.map((state, i) => view(state, 40_000 + i, 50_000 + i));

const cliStates = (word: string) => {
  const parsed = parseCommandLine(['list', '--state', word]);
  return parsed.command === 'list' ? parsed.options.selection.states : undefined;
};
const configRuleStates = (word: string) => parseConfig(`rules:\n  - name: r\n    match: { state: ${JSON.stringify(word)} }\n`, 'c.yaml').rules[0]!.match.states;
const configCountStates = (word: string) => parseConfig(`counts:\n  - { name: c, state: ${JSON.stringify(word)}, per: process, warning: 1 }\n`, 'c.yaml').counts[0]!.states;
const configThresholdStates = (word: string) => Object.keys(parseConfig(`thresholds:\n  states: { ${JSON.stringify(word)}: 5m }\n`, 'c.yaml').warning.perStateMs ?? {});
const dashboardStates = (word: string) => ONE_PER_STATE.filter(compileFilter(word)).map((v) => v.row.state);

describe('one connection-filter grammar for the command line, the config file and the dashboard', () => {
  it.each<[string, TcpState]>([
    ['CLOSE_WAIT', 'CLOSE_WAIT'],
    ['close-wait', 'CLOSE_WAIT'],
    ['CLOSEWAIT', 'CLOSE_WAIT'],
    ['closewait', 'CLOSE_WAIT'],
    ['CLOSE-WAIT', 'CLOSE_WAIT'], // ss
    ['CloseWait', 'CLOSE_WAIT'], // Get-NetTCPConnection
    ['SYN-RECV', 'SYN_RECEIVED'], // ss
    ['SYN_RECV', 'SYN_RECEIVED'], // net-tools netstat
    ['syn_rcvd', 'SYN_RECEIVED'], // BSD netstat
    ['SynReceived', 'SYN_RECEIVED'],
    ['NEW-SYN-RECV', 'SYN_RECEIVED'],
    ['TIME_WAIT', 'TIME_WAIT'],
    ['time-wait', 'TIME_WAIT'],
    ['TimeWait', 'TIME_WAIT'],
    ['ESTAB', 'ESTABLISHED'],
    ['established', 'ESTABLISHED'],
    ['LISTENING', 'LISTEN'], // Windows netstat
    ['FIN_WAIT1', 'FIN_WAIT_1'], // net-tools netstat
    ['fin-wait-1', 'FIN_WAIT_1'],
    ['FinWait2', 'FIN_WAIT_2'],
    ['LAST-ACK', 'LAST_ACK'],
    ['UNCONN', 'CLOSED'],
    ['DeleteTcb', 'DELETE_TCB'],
    ['SCHLIESSEN_WARTEN', 'CLOSE_WAIT'], // German Windows netstat
  ])('%s is %s everywhere', (word, state) => {
    expect(parseStateWord(word)).toBe(state);
    expect(cliStates(word)).toEqual([state]);
    expect(configRuleStates(word)).toEqual([state]);
    expect(configCountStates(word)).toEqual([state]);
    // A per-state threshold is refused on a state no dwell threshold flags (LISTEN, TIME_WAIT…), in any spelling.
    if (sessionClassOf(state as TcpState) === 'other') expect(() => configThresholdStates(word)).toThrow(/is never flagged by how long it lasts/);
    else expect(configThresholdStates(word)).toEqual([state]);
    expect(dashboardStates(word)).toEqual([state]);
    expect(filterNeedsOwners(word)).toBe(false);
  });

  it.each(['HALF_DEAD', 'CLOSE_WAITING', 'FIN_WAIT', 'NONE', '8', '0A'])('%s is no state anywhere: refused by the flag and the config, plain text in the dashboard', (word) => {
    expect(parseStateWord(word)).toBeUndefined();
    expect(() => parseCommandLine(['list', '--state', word])).toThrow(/unknown state/);
    expect(() => configRuleStates(word)).toThrow(ConfigError);
    expect(() => configRuleStates(word)).toThrow(/unknown state/);
    expect(parseFilterWord(word).kind).not.toBe('state');
  });

  it('every word of the tables a person copies from names the state its table gives (no spelling means two states)', () => {
    for (const vocabulary of ['ss', 'linux-netstat', 'windows-netstat', 'bsd-netstat', 'mib'] satisfies StateVocabulary[]) {
      for (const [word, state] of Object.entries(vocabularyTable(vocabulary))) {
        if (/^\d+$/.test(word)) continue; // MIB numbers are not typed words
        expect({ vocabulary, word, state: parseStateWord(word) }).toEqual({ vocabulary, word, state });
      }
    }
    for (const state of ALL_TCP_STATES) expect(parseStateWord(state)).toBe(state);
  });

  const PORT_VIEWS = [view('ESTABLISHED', 5432, 40100), view('ESTABLISHED', 6005, 40101), view('ESTABLISHED', 40102, 443), view('ESTABLISHED', 40103, 80, 5432)];
  it.each<[string, { from: number; to: number }, number[]]>([
    ['5432', { from: 5432, to: 5432 }, [5432, 40103]], // the dashboard's single number also matches a pid
    [':5432', { from: 5432, to: 5432 }, [5432]], // with the colon, a port only (ce13388): never pid 5432's connection
    ['6000-6010', { from: 6000, to: 6010 }, [6005]],
    ['443', { from: 443, to: 443 }, [40102]],
  ])('port %s is the same range everywhere', (word, range, dashboardLocalPorts) => {
    expect(parsePortRange(word)).toEqual(range);
    const cli = parseCommandLine(['list', '--port', word]);
    expect(cli.command === 'list' && cli.options.selection.ports).toEqual([range]);
    expect(parseConfig(`rules:\n  - name: r\n    match: { local-port: ${JSON.stringify(word)} }\n`, 'c.yaml').rules[0]!.match.localPorts).toEqual([range]);
    expect(PORT_VIEWS.filter(compileFilter(word)).map((v) => v.row.local.port)).toEqual(dashboardLocalPorts);
  });

  it.each(['70000', '10-5', '5432-', '-1', '5 432'])('port %s is refused by the flag and the config', (word) => {
    expect(parsePortRange(word)).toBeUndefined();
    expect(() => parseCommandLine(['list', '--port', word])).toThrow(/invalid port/);
    expect(() => parseConfig(`rules:\n  - name: r\n    match: { local-port: ${JSON.stringify(word)} }\n`, 'c.yaml')).toThrow(/invalid port or range/);
  });

  it('a number too large for a port is a pid in the dashboard, as --pid reads it', () => {
    expect(parsePid('812345')).toBe(812345);
    expect(parseFilterWord('812345')).toEqual({ kind: 'pid', pid: 812345 });
    const cli = parseCommandLine(['list', '--pid', '812345']);
    expect(cli.command === 'list' && cli.options.selection.pids).toEqual([812345]);
    const views = [view('ESTABLISHED', 1, 2, 812345), view('ESTABLISHED', 3, 4, 7)];
    expect(views.filter(compileFilter('812345')).map((v) => v.row.pid)).toEqual([812345]);
    expect(filterNeedsOwners('812345')).toBe(true);
    expect(parsePid('-3')).toBeUndefined();
    expect(parsePid('1e3')).toBeUndefined();
  });

  it('a blank process name is refused in the config, as the flag drops blank items', () => {
    expect(() => parseConfig('rules:\n  - name: r\n    match: { process: "  " }\n', 'c.yaml')).toThrow(/c\.yaml:3: rules\[0\]\.match\.process\[0\]: a process name may not be blank/);
    expect(parseConfig('rules:\n  - name: r\n    match: { process: " java " }\n', 'c.yaml').rules[0]!.match.processes).toEqual(['java']);
  });
});
