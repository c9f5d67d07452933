// The one canonical TCP state (RFC 793 names with underscores, docs/tcp-facts.md#states).
// Every OS vocabulary maps into it through the tables in state-vocabularies.ts; nothing
// outside those tables sees a vendor code or number.
export const TcpState = {
  CLOSED: 'CLOSED',
  LISTEN: 'LISTEN',
  SYN_SENT: 'SYN_SENT',
  SYN_RECEIVED: 'SYN_RECEIVED',
  ESTABLISHED: 'ESTABLISHED',
  FIN_WAIT_1: 'FIN_WAIT_1',
  FIN_WAIT_2: 'FIN_WAIT_2',
  CLOSE_WAIT: 'CLOSE_WAIT',
  CLOSING: 'CLOSING',
  LAST_ACK: 'LAST_ACK',
  TIME_WAIT: 'TIME_WAIT',
  DELETE_TCB: 'DELETE_TCB',
  BOUND: 'BOUND',
  UNKNOWN: 'UNKNOWN',
} as const;

export type TcpState = (typeof TcpState)[keyof typeof TcpState];

export const ALL_TCP_STATES: readonly TcpState[] = Object.values(TcpState);

export function isTcpState(word: string): word is TcpState {
  return (ALL_TCP_STATES as readonly string[]).includes(word);
}

// The session classes of Cisco's TCP timers (docs/tcp-facts.md#session-classes).
export type SessionClass = 'half-open' | 'half-close' | 'established' | 'other';

const HALF_OPEN: ReadonlySet<TcpState> = new Set([TcpState.SYN_SENT, TcpState.SYN_RECEIVED]);
const HALF_CLOSE: ReadonlySet<TcpState> = new Set([TcpState.FIN_WAIT_1, TcpState.FIN_WAIT_2, TcpState.CLOSE_WAIT, TcpState.CLOSING, TcpState.LAST_ACK]);

export function sessionClassOf(state: TcpState): SessionClass {
  if (HALF_OPEN.has(state)) return 'half-open';
  if (HALF_CLOSE.has(state)) return 'half-close';
  if (state === TcpState.ESTABLISHED) return 'established';
  return 'other';
}
