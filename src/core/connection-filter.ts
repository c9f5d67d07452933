import type { PortRange } from './policy.js';
import { nearestState, stateFromAnyWord } from './state-vocabularies.js';
import { ALL_TCP_STATES, type TcpState } from './tcp-state.js';

// The one grammar for the words a person types to pick connections. The command line (`--state`,
// `--port`, `--pid`, `--process`, `explain STATE`), the config file (`state:`, `local-port:`,
// `process:`, `thresholds.states`) and the dashboard's `/` filter all read their words here, so a
// spelling accepted by one is accepted, with the same meaning, by the others.

/**
 * The state a typed word names: the canonical name or any spelling of the tables a person copies
 * from (ss, net-tools and Windows netstat with their translations, BSD netstat), in any case, with
 * or without `-`, `_` or blanks (ESTABLISHED, estab, close-wait, CLOSEWAIT, SYN-RECV, SYN_RECV,
 * LISTENING, TimeWait, FIN_WAIT1); undefined when none fits. Never a number (`8080` is a port).
 * The spellings themselves are the tables of state-vocabularies.ts (stateFromAnyWord).
 */
export function parseStateWord(word: string): TcpState | undefined {
  return stateFromAnyWord(word);
}

/** `unknown state "CLOSE_WIAT" (did you mean CLOSE_WAIT?)`, else the list of states. */
export function unknownStateMessage(word: string): string {
  const nearest = nearestState(word);
  return `unknown state "${word}" (${nearest ? `did you mean ${nearest}?` : `one of ${ALL_TCP_STATES.join(', ')}`})`;
}

const PORT_RANGE = /^:?(\d{1,5})(?:-(\d{1,5}))?$/;

/**
 * A port or an inclusive range of them: `5432`, `:5432`, `6000-6010`; each 0–65535 and the first
 * not above the last. undefined for anything else.
 */
export function parsePortRange(text: string): PortRange | undefined {
  const match = PORT_RANGE.exec(text.trim());
  if (!match) return undefined;
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  return from <= to && to <= 65535 ? { from, to } : undefined;
}

/** A process id: digits only (no sign, no blank inside), a safe integer. */
export function parsePid(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return undefined;
  const pid = Number(trimmed);
  return Number.isSafeInteger(pid) ? pid : undefined;
}

/** A process name pattern (`*` matches any run of characters): any non-blank text, trimmed. */
export function parseProcessPattern(text: string): string | undefined {
  const trimmed = text.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** One word of the dashboard's `/` filter, read with the same grammar as the flags and config. */
export type FilterWord = { kind: 'state'; state: TcpState } | { kind: 'port'; range: PortRange } | { kind: 'pid'; pid: number } | { kind: 'text'; text: string };

/**
 * What one filter word names: a state (any spelling), else a port or range (`5432`, `:5432`,
 * `6000-6010`), else a pid (a number too large for a port), else text to look for in addresses
 * and process names.
 */
export function parseFilterWord(word: string): FilterWord {
  const state = parseStateWord(word);
  if (state !== undefined) return { kind: 'state', state };
  const range = parsePortRange(word);
  if (range !== undefined) return { kind: 'port', range };
  const pid = parsePid(word);
  if (pid !== undefined) return { kind: 'pid', pid };
  return { kind: 'text', text: word };
}
