import { describe, expect, it } from 'vitest';
import { mapState, vocabularyTable } from '../../src/core/state-vocabularies.js';
import { ALL_TCP_STATES, TcpState, sessionClassOf } from '../../src/core/tcp-state.js';

// Each state as every table spells it (docs/tcp-facts.md#state-spellings), row by row: canonical ← each vocabulary.
const SECTION_4: [TcpState, string, string, string, string, string][] = [
  // canonical, /proc hex, ss, Linux netstat, Windows netstat, MIB number
  ['ESTABLISHED', '01', 'ESTAB', 'ESTABLISHED', 'ESTABLISHED', '5'],
  ['SYN_SENT', '02', 'SYN-SENT', 'SYN_SENT', 'SYN_SENT', '3'],
  ['SYN_RECEIVED', '03', 'SYN-RECV', 'SYN_RECV', 'SYN_RECEIVED', '4'],
  ['FIN_WAIT_1', '04', 'FIN-WAIT-1', 'FIN_WAIT1', 'FIN_WAIT_1', '6'],
  ['FIN_WAIT_2', '05', 'FIN-WAIT-2', 'FIN_WAIT2', 'FIN_WAIT_2', '7'],
  ['TIME_WAIT', '06', 'TIME-WAIT', 'TIME_WAIT', 'TIME_WAIT', '11'],
  ['CLOSED', '07', 'UNCONN', 'CLOSE', 'CLOSED', '1'],
  ['CLOSE_WAIT', '08', 'CLOSE-WAIT', 'CLOSE_WAIT', 'CLOSE_WAIT', '8'],
  ['LAST_ACK', '09', 'LAST-ACK', 'LAST_ACK', 'LAST_ACK', '10'],
  ['LISTEN', '0A', 'LISTEN', 'LISTEN', 'LISTENING', '2'],
  ['CLOSING', '0B', 'CLOSING', 'CLOSING', 'CLOSING', '9'],
];

describe('state vocabularies (docs/tcp-facts.md#state-spellings)', () => {
  it.each(SECTION_4)('%s from every table', (canonical, hex, ss, netstat, windows, mib) => {
    expect(mapState('linux-proc-hex', hex).state).toBe(canonical);
    expect(mapState('ss', ss).state).toBe(canonical);
    expect(mapState('linux-netstat', netstat).state).toBe(canonical);
    expect(mapState('windows-netstat', windows).state).toBe(canonical);
    expect(mapState('mib', mib).state).toBe(canonical);
  });

  it('keeps the numbering of each table apart: Linux 09/0B vs Windows 9/10', () => {
    expect(mapState('linux-proc-hex', '09').state).toBe('LAST_ACK');
    expect(mapState('linux-proc-hex', '0B').state).toBe('CLOSING');
    expect(mapState('mib', '9').state).toBe('CLOSING');
    expect(mapState('mib', '10').state).toBe('LAST_ACK');
  });

  it('covers the extra states: 0C NEW_SYN_RECV, DELETE_TCB, Bound (100), lowercase hex', () => {
    expect(mapState('linux-proc-hex', '0C')).toEqual({ state: 'SYN_RECEIVED', rawState: '0C' });
    expect(mapState('linux-proc-hex', '0a').state).toBe('LISTEN');
    expect(mapState('windows-netstat', 'DELETE_TCB').state).toBe('DELETE_TCB');
    expect(mapState('mib', '12').state).toBe('DELETE_TCB');
    expect(mapState('mib', '100').state).toBe('BOUND');
    expect(mapState('mib', 'SynReceived').state).toBe('SYN_RECEIVED');
  });

  it('reads German Windows words and their mangled code-page forms', () => {
    for (const word of ['ABHÖREN', 'ABH™REN', 'ABH\x99REN', 'ABH\uFFFDREN', 'ABHREN']) expect(mapState('windows-netstat', word).state).toBe('LISTEN');
    expect(mapState('windows-netstat', 'HERGESTELLT').state).toBe('ESTABLISHED');
    expect(mapState('windows-netstat', 'WARTEND').state).toBe('TIME_WAIT');
    expect(mapState('windows-netstat', 'SCHLIESSEN_WARTEN').state).toBe('CLOSE_WAIT');
  });

  it("reads systeminformation's mixed strings (ss words passed through, netstat words, Linux spellings of Windows words)", () => {
    for (const [word, state] of [
      ['SYN-SENT', 'SYN_SENT'],
      ['ESTABLISHED', 'ESTABLISHED'],
      ['FIN_WAIT1', 'FIN_WAIT_1'],
      ['SYN_RECV', 'SYN_RECEIVED'],
      ['CLOSE-WAIT', 'CLOSE_WAIT'],
      ['LISTEN', 'LISTEN'],
      ['SYN_RCVD', 'SYN_RECEIVED'],
    ] as const) {
      expect(mapState('systeminformation', word).state).toBe(state);
    }
  });

  it('maps an unknown word to UNKNOWN, keeps it raw, never throws', () => {
    expect(mapState('ss', ' WEIRD-STATE ')).toEqual({ state: 'UNKNOWN', rawState: 'WEIRD-STATE' });
    expect(mapState('linux-proc-hex', '')).toEqual({ state: 'UNKNOWN', rawState: '' });
    expect(mapState('mib', '13').state).toBe('UNKNOWN');
  });

  it('maps only into canonical states', () => {
    for (const vocabulary of ['linux-proc-hex', 'ss', 'linux-netstat', 'windows-netstat', 'mib', 'systeminformation', 'bsd-netstat'] as const) {
      for (const state of Object.values(vocabularyTable(vocabulary))) expect(ALL_TCP_STATES).toContain(state);
    }
  });

  it('groups states into the session classes of docs/tcp-facts.md#session-classes', () => {
    expect(['SYN_SENT', 'SYN_RECEIVED'].map((s) => sessionClassOf(s as TcpState))).toEqual(['half-open', 'half-open']);
    expect(['FIN_WAIT_1', 'FIN_WAIT_2', 'CLOSE_WAIT', 'CLOSING', 'LAST_ACK'].every((s) => sessionClassOf(s as TcpState) === 'half-close')).toBe(true);
    expect(sessionClassOf('TIME_WAIT')).toBe('other');
    expect(sessionClassOf('ESTABLISHED')).toBe('established');
  });
});
