// The one canonical TCP state (RFC 793 names with underscores, field notes §2 and §4).
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

// The session classes of field notes §1 (Cisco IOS XE timers).
export type SessionClass = 'half-open' | 'half-close' | 'established' | 'other';

const HALF_OPEN: ReadonlySet<TcpState> = new Set([TcpState.SYN_SENT, TcpState.SYN_RECEIVED]);
const HALF_CLOSE: ReadonlySet<TcpState> = new Set([
  TcpState.FIN_WAIT_1,
  TcpState.FIN_WAIT_2,
  TcpState.CLOSE_WAIT,
  TcpState.CLOSING,
  TcpState.LAST_ACK,
]);

export function sessionClassOf(state: TcpState): SessionClass {
  if (HALF_OPEN.has(state)) return 'half-open';
  if (HALF_CLOSE.has(state)) return 'half-close';
  if (state === TcpState.ESTABLISHED) return 'established';
  return 'other';
}

// Short meanings for display (field notes §2); the troubleshooting work extends these.
export const STATE_MEANING: Readonly<Record<TcpState, string>> = {
  CLOSED: 'no connection',
  LISTEN: 'passive open, waiting for a SYN',
  SYN_SENT: 'SYN sent, waiting for SYN/ACK: stuck means the SYN or SYN/ACK is lost or blocked, or the peer is down',
  SYN_RECEIVED: 'SYN/ACK sent, waiting for the final ACK: stuck means a lost ACK, a SYN flood or an accept-queue overflow',
  ESTABLISHED: 'open; data may flow',
  FIN_WAIT_1: 'our FIN sent, waiting for its ACK: stuck means the peer became unreachable after our close',
  FIN_WAIT_2: 'our FIN acknowledged, waiting for the peer FIN: the peer application has not closed its side',
  CLOSE_WAIT: 'peer closed; waiting for the local application to close: stuck means the local application leaks sockets',
  CLOSING: 'both sides sent FIN, waiting for the ACK of ours',
  LAST_ACK: 'our FIN sent after the peer closed, waiting for its ACK: the peer is gone',
  TIME_WAIT: 'active closer waiting 2*MSL before reuse: normal',
  DELETE_TCB: 'Windows: control block being deleted',
  BOUND: 'bound to a port, no connection yet',
  UNKNOWN: 'state word not recognised',
};
