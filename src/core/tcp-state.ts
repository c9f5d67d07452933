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

/**
 * The states a connection can move to next from each state (RFC 793 figure 6, as Linux runs it:
 * no listener moves to SYN_SENT, and a FIN_WAIT_1 whose FIN and ACK arrive together goes straight
 * to TIME_WAIT); leaving the table altogether (CLOSED) is always possible and not listed. States
 * with no entry (Windows' DELETE_TCB and BOUND, UNKNOWN) may move anywhere, as far as we know.
 * A reading filtered to some states uses it to tell "closed" from "perhaps moved to a state not read".
 */
const NEXT_STATES: Partial<Record<TcpState, readonly TcpState[]>> = {
  [TcpState.CLOSED]: [TcpState.LISTEN, TcpState.SYN_SENT],
  [TcpState.LISTEN]: [],
  [TcpState.SYN_SENT]: [TcpState.SYN_RECEIVED, TcpState.ESTABLISHED],
  [TcpState.SYN_RECEIVED]: [TcpState.ESTABLISHED, TcpState.FIN_WAIT_1],
  [TcpState.ESTABLISHED]: [TcpState.FIN_WAIT_1, TcpState.CLOSE_WAIT],
  [TcpState.FIN_WAIT_1]: [TcpState.FIN_WAIT_2, TcpState.CLOSING, TcpState.TIME_WAIT],
  [TcpState.FIN_WAIT_2]: [TcpState.TIME_WAIT],
  [TcpState.CLOSE_WAIT]: [TcpState.LAST_ACK],
  [TcpState.CLOSING]: [TcpState.TIME_WAIT],
  [TcpState.LAST_ACK]: [],
  [TcpState.TIME_WAIT]: [],
};

/**
 * Whether every state a connection in `state` can reach (in any number of steps) is in `covered`:
 * then a connection that left `state` and is listed by no reading of `covered` has closed.
 * CLOSE_WAIT → LAST_ACK → closed: yes for the stuck states; SYN_SENT → ESTABLISHED: no.
 */
export function coversEverySuccessor(covered: ReadonlySet<TcpState>, state: TcpState): boolean {
  const seen = new Set<TcpState>([state]);
  const queue: TcpState[] = [state];
  for (let s = queue.pop(); s !== undefined; s = queue.pop()) {
    const next = NEXT_STATES[s];
    if (!next) return false;
    for (const n of next) {
      if (seen.has(n)) continue;
      if (!covered.has(n)) return false;
      seen.add(n);
      queue.push(n);
    }
  }
  return true;
}

/**
 * The states a connection can be stuck in (half-open and half-close, docs/tcp-facts.md#session-classes):
 * what a fast poll of tiered polling reads every interval.
 */
export const STUCK_STATES: readonly TcpState[] = [...HALF_OPEN, ...HALF_CLOSE];
