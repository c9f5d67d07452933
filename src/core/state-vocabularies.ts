import { nearestWord } from './suggest.js';
import { TcpState, isTcpState } from './tcp-state.js';

// Every spelling of a TCP state that an OS table prints, mapped to the canonical TcpState
// (docs/tcp-facts.md#state-spellings; the German Windows words from real captures, test/fixtures/README.md).
// Numbers differ between tables (Linux LAST_ACK=09 and CLOSING=0B; Windows CLOSING=9 and
// LAST_ACK=10), so each numbering has its own table and no number crosses between them.

export type StateVocabulary = 'linux-proc-hex' | 'ss' | 'linux-netstat' | 'windows-netstat' | 'mib' | 'systeminformation' | 'bsd-netstat' | 'conntrack';

export interface MappedState {
  state: TcpState;
  /** The word or code exactly as the source printed it. */
  rawState: string;
}

const S = TcpState;

// include/net/tcp_states.h; /proc/net/tcp prints the number as two hex digits.
const LINUX_PROC_HEX: Record<string, TcpState> = {
  '01': S.ESTABLISHED,
  '02': S.SYN_SENT,
  '03': S.SYN_RECEIVED,
  '04': S.FIN_WAIT_1,
  '05': S.FIN_WAIT_2,
  '06': S.TIME_WAIT,
  '07': S.CLOSED,
  '08': S.CLOSE_WAIT,
  '09': S.LAST_ACK,
  '0A': S.LISTEN,
  '0B': S.CLOSING,
  '0C': S.SYN_RECEIVED, // TCP_NEW_SYN_RECV: a request socket, still SYN_RECEIVED on the wire
};

// iproute2 ss (not localized).
const SS_WORDS: Record<string, TcpState> = {
  ESTAB: S.ESTABLISHED,
  'SYN-SENT': S.SYN_SENT,
  'SYN-RECV': S.SYN_RECEIVED,
  'NEW-SYN-RECV': S.SYN_RECEIVED,
  'FIN-WAIT-1': S.FIN_WAIT_1,
  'FIN-WAIT-2': S.FIN_WAIT_2,
  'TIME-WAIT': S.TIME_WAIT,
  UNCONN: S.CLOSED,
  'CLOSE-WAIT': S.CLOSE_WAIT,
  'LAST-ACK': S.LAST_ACK,
  LISTEN: S.LISTEN,
  CLOSING: S.CLOSING,
};

// net-tools netstat, English msgids plus the translations found in its po files and in real
// captures (fixtures README): de VERBUNDEN, es ESCUCHAR/ESTABLECIDO, pt_BR, cs.
const LINUX_NETSTAT_WORDS: Record<string, TcpState> = {
  ESTABLISHED: S.ESTABLISHED,
  SYN_SENT: S.SYN_SENT,
  SYN_RECV: S.SYN_RECEIVED,
  FIN_WAIT1: S.FIN_WAIT_1,
  FIN_WAIT2: S.FIN_WAIT_2,
  TIME_WAIT: S.TIME_WAIT,
  CLOSE: S.CLOSED,
  CLOSE_WAIT: S.CLOSE_WAIT,
  LAST_ACK: S.LAST_ACK,
  LISTEN: S.LISTEN,
  CLOSING: S.CLOSING,
  VERBUNDEN: S.ESTABLISHED, // de
  ESCUCHAR: S.LISTEN, // es
  ESTABLECIDO: S.ESTABLISHED, // es
  ESTABELECIDA: S.ESTABLISHED, // pt_BR
  SYN_ENVIADO: S.SYN_SENT,
  SYN_RECEBIDO: S.SYN_RECEIVED,
  ESPERA_FIN1: S.FIN_WAIT_1,
  ESPERA_FIN2: S.FIN_WAIT_2,
  FECHAR: S.CLOSED,
  ESPERANDO_FECHAR: S.CLOSE_WAIT,
  ÚLTIMO_ACK: S.LAST_ACK,
  OUÇA: S.LISTEN,
  FECHANDO: S.CLOSING,
  SPOJENO: S.ESTABLISHED, // cs
  ZAVŘEN: S.CLOSED,
  'POSLEDNÍ ACK': S.LAST_ACK,
  NASLOUCHÁ: S.LISTEN,
  ZAVÍRÁ: S.CLOSING,
  // sv and ca came after net-tools 2.10 (po/sv.po, po/ca.po); their other states keep the C words.
  ETABLERAD: S.ESTABLISHED, // sv
  STÄNG: S.CLOSED,
  STÄNG_VÄNTA: S.CLOSE_WAIT,
  LYSSNAR: S.LISTEN,
  STÄNGER: S.CLOSING,
  ESTABLERT: S.ESTABLISHED, // ca
  SYNSENT: S.SYN_SENT,
  SYNRECV: S.SYN_RECEIVED,
  FINWAIT1: S.FIN_WAIT_1,
  FINWAIT2: S.FIN_WAIT_2,
  TEMPS: S.TIME_WAIT,
  TANCA: S.CLOSED,
  CLOSEWAIT: S.CLOSE_WAIT,
  LASTACK: S.LAST_ACK,
  ESCOLTA: S.LISTEN,
  TANCAMENT: S.CLOSING,
};

// Windows netstat.exe. Only German Windows translates the state column; the mangled forms
// are what the CP850 byte for 'Ö' (0x99) becomes when read in another code page.
const WINDOWS_NETSTAT_WORDS: Record<string, TcpState> = {
  CLOSED: S.CLOSED,
  LISTENING: S.LISTEN,
  SYN_SENT: S.SYN_SENT,
  SYN_RECEIVED: S.SYN_RECEIVED,
  ESTABLISHED: S.ESTABLISHED,
  FIN_WAIT_1: S.FIN_WAIT_1,
  FIN_WAIT_2: S.FIN_WAIT_2,
  CLOSE_WAIT: S.CLOSE_WAIT,
  CLOSING: S.CLOSING,
  LAST_ACK: S.LAST_ACK,
  TIME_WAIT: S.TIME_WAIT,
  DELETE_TCB: S.DELETE_TCB,
  BOUND: S.BOUND,
  ABHÖREN: S.LISTEN,
  'ABH\u2122REN': S.LISTEN, // CP850 0x99 read as CP1252
  'ABH\u0099REN': S.LISTEN, // raw byte read as Latin-1
  'ABH\uFFFDREN': S.LISTEN, // decoded as UTF-8
  ABHREN: S.LISTEN, // non-ASCII stripped
  HERGESTELLT: S.ESTABLISHED,
  WARTEND: S.TIME_WAIT,
  SCHLIESSEN_WARTEN: S.CLOSE_WAIT,
  SYN_GESENDET: S.SYN_SENT,
  SYN_EMPFANGEN: S.SYN_RECEIVED,
  FIN_WARTEN_1: S.FIN_WAIT_1,
  FIN_WARTEN_2: S.FIN_WAIT_2,
  SCHLIESSEND: S.CLOSING,
  ZULETZT_ACK: S.LAST_ACK,
};

// MIB_TCP_STATE / MSFT_NetTCPConnection.State (and Get-NetTCPConnection's names), plus 100 Bound.
const MIB_NUMBERS: Record<string, TcpState> = {
  '1': S.CLOSED,
  '2': S.LISTEN,
  '3': S.SYN_SENT,
  '4': S.SYN_RECEIVED,
  '5': S.ESTABLISHED,
  '6': S.FIN_WAIT_1,
  '7': S.FIN_WAIT_2,
  '8': S.CLOSE_WAIT,
  '9': S.CLOSING,
  '10': S.LAST_ACK,
  '11': S.TIME_WAIT,
  '12': S.DELETE_TCB,
  '100': S.BOUND,
  CLOSED: S.CLOSED,
  LISTEN: S.LISTEN,
  SYNSENT: S.SYN_SENT,
  SYNRECEIVED: S.SYN_RECEIVED,
  ESTABLISHED: S.ESTABLISHED,
  FINWAIT1: S.FIN_WAIT_1,
  FINWAIT2: S.FIN_WAIT_2,
  CLOSEWAIT: S.CLOSE_WAIT,
  CLOSING: S.CLOSING,
  LASTACK: S.LAST_ACK,
  TIMEWAIT: S.TIME_WAIT,
  DELETETCB: S.DELETE_TCB,
  BOUND: S.BOUND,
};

// macOS / BSD netstat.
const BSD_NETSTAT_WORDS: Record<string, TcpState> = {
  CLOSED: S.CLOSED,
  LISTEN: S.LISTEN,
  SYN_SENT: S.SYN_SENT,
  SYN_RCVD: S.SYN_RECEIVED,
  ESTABLISHED: S.ESTABLISHED,
  CLOSE_WAIT: S.CLOSE_WAIT,
  FIN_WAIT_1: S.FIN_WAIT_1,
  CLOSING: S.CLOSING,
  LAST_ACK: S.LAST_ACK,
  FIN_WAIT_2: S.FIN_WAIT_2,
  TIME_WAIT: S.TIME_WAIT,
};

// netfilter conntrack (nf_conntrack_proto_tcp.c tcp_conntrack_names): the firewall's view of a
// flow. FIN_WAIT = a FIN seen, not yet acknowledged (the closer is in FIN_WAIT_1); CLOSE_WAIT = that
// FIN acknowledged; SYN_SENT2 = simultaneous open; NONE = not yet classified.
const CONNTRACK_WORDS: Record<string, TcpState> = {
  NONE: S.CLOSED,
  SYN_SENT: S.SYN_SENT,
  SYN_SENT2: S.SYN_SENT,
  SYN_RECV: S.SYN_RECEIVED,
  ESTABLISHED: S.ESTABLISHED,
  FIN_WAIT: S.FIN_WAIT_1,
  CLOSE_WAIT: S.CLOSE_WAIT,
  LAST_ACK: S.LAST_ACK,
  TIME_WAIT: S.TIME_WAIT,
  CLOSE: S.CLOSED,
};

// systeminformation's networkConnections() passes through whatever its platform command printed
// (ss words on Linux, net-tools words, Windows words partly rewritten to Linux spellings).
const SYSTEMINFORMATION_WORDS: Record<string, TcpState> = {
  ...WINDOWS_NETSTAT_WORDS,
  ...BSD_NETSTAT_WORDS,
  ...LINUX_NETSTAT_WORDS,
  ...SS_WORDS,
  'FIN-WAIT1': S.FIN_WAIT_1,
  'FIN-WAIT2': S.FIN_WAIT_2,
};

const TABLES: Record<StateVocabulary, Record<string, TcpState>> = {
  'linux-proc-hex': LINUX_PROC_HEX,
  ss: SS_WORDS,
  'linux-netstat': LINUX_NETSTAT_WORDS,
  'windows-netstat': WINDOWS_NETSTAT_WORDS,
  mib: MIB_NUMBERS,
  systeminformation: SYSTEMINFORMATION_WORDS,
  'bsd-netstat': BSD_NETSTAT_WORDS,
  conntrack: CONNTRACK_WORDS,
};

const KNOWN_WORDS: Record<StateVocabulary, Map<string, MappedState>> = Object.fromEntries(
  Object.entries(TABLES).map(([vocabulary, table]) => [vocabulary, new Map(Object.entries(table).map(([word, state]) => [word, { state, rawState: word }]))]),
) as Record<StateVocabulary, Map<string, MappedState>>;

/** Maps a raw state word or code to the canonical state; unknown words give UNKNOWN, never throw. */
export function mapState(vocabulary: StateVocabulary, raw: string): MappedState {
  // A known word returns one shared object: no allocation per row of a 100,000-row table.
  const known = KNOWN_WORDS[vocabulary].get(raw);
  if (known) return known;
  const rawState = raw.trim();
  const table = TABLES[vocabulary];
  return { state: table[rawState] ?? table[rawState.toUpperCase()] ?? TcpState.UNKNOWN, rawState };
}

/** The table itself, for tests that check totality. */
export function vocabularyTable(vocabulary: StateVocabulary): Readonly<Record<string, TcpState>> {
  return TABLES[vocabulary];
}

/** The vocabularies a person may type from, besides the canonical names. */
const TYPED_VOCABULARIES = ['ss', 'linux-netstat', 'windows-netstat', 'bsd-netstat'] as const;

/** A typed word without case and separators: `close-wait`, `Close Wait`, `CLOSEWAIT` → `CLOSEWAIT`. */
export const squeezed = (word: string) => word.toUpperCase().replace(/[\s_-]+/g, '');

/**
 * Every typed spelling without separators, to its state. A squeezed spelling two states share
 * would be ambiguous, so it is left out (none does today; the tests check).
 */
const SQUEEZED_WORDS: ReadonlyMap<string, TcpState> = (() => {
  const byWord = new Map<string, TcpState | null>();
  const add = (word: string, state: TcpState) => {
    const key = squeezed(word);
    const before = byWord.get(key);
    byWord.set(key, before === undefined || before === state ? state : null);
  };
  for (const state of Object.values(TcpState)) add(state, state);
  for (const vocabulary of TYPED_VOCABULARIES) for (const [word, state] of Object.entries(TABLES[vocabulary])) if (state !== TcpState.UNKNOWN) add(word, state);
  return new Map([...byWord].filter((entry): entry is [string, TcpState] => entry[1] !== null));
})();

/**
 * Any spelling a person may type for a state (ESTABLISHED, estab, close-wait, SYN_RECV, LISTENING,
 * CLOSEWAIT, "close wait"); undefined when none fits. The one place a typed state word is read.
 */
export function stateFromAnyWord(word: string): TcpState | undefined {
  const upper = word.trim().toUpperCase();
  const underscored = upper.replace(/-/g, '_');
  if (isTcpState(underscored)) return underscored;
  for (const vocabulary of TYPED_VOCABULARIES) {
    const { state } = mapState(vocabulary, upper);
    if (state !== TcpState.UNKNOWN) return state;
  }
  return SQUEEZED_WORDS.get(squeezed(upper));
}

/** Every canonical state name and typed spelling (without separators), for suggestions. */
export function typedStateWords(): Iterable<string> {
  return SQUEEZED_WORDS.keys();
}

/** The canonical state nearest to a word that is none (`CLOSE_WIAT` → CLOSE_WAIT), or undefined. */
export function nearestState(word: string): TcpState | undefined {
  const nearest = nearestWord(squeezed(word), typedStateWords());
  return nearest === undefined ? undefined : SQUEEZED_WORDS.get(nearest);
}
