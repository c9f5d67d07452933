import type { Endpoint } from '../core/address.js';
import type { ConnectionView } from '../core/evaluate.js';
import { matches, type PortRange, type TimedFlagKind } from '../core/policy.js';
import { TcpState } from '../core/tcp-state.js';

/** Which connections a command acts on: the filters shared by `list` and `reset`. */
export interface Selection {
  states?: TcpState[];
  /** Local or remote port in any of these ranges. */
  ports?: PortRange[];
  pids?: number[];
  processes?: string[];
  flaggedOnly: boolean;
  /** Only connections flagged as one of these kinds (implies flagged). */
  kinds?: TimedFlagKind[];
  local?: Partial<Endpoint>;
  remote?: Partial<Endpoint>;
}

export function isEmptySelection(selection: Selection): boolean {
  const { flaggedOnly, ...filters } = selection;
  return !flaggedOnly && Object.values(filters).every((value) => value === undefined);
}

export function selectionNeedsOwners(selection: Selection): boolean {
  return selection.pids !== undefined || selection.processes !== undefined;
}

const inRange = (range: PortRange, port: number) => port >= range.from && port <= range.to;
const endpointMatches = (pattern: Partial<Endpoint> | undefined, endpoint: Endpoint) =>
  !pattern || ((pattern.address === undefined || pattern.address === endpoint.address) && (pattern.port === undefined || pattern.port === endpoint.port));

/** The filters that need no owner: run first, so owners are looked up only for what they keep. */
export function selectsWithoutOwner(selection: Selection, view: ConnectionView): boolean {
  const { row, flag } = view;
  return (
    (!selection.flaggedOnly || flag !== undefined) &&
    (!selection.kinds || (flag !== undefined && flag.kind !== 'count' && selection.kinds.includes(flag.kind))) &&
    matches(selection.states ? { states: selection.states } : undefined, row) &&
    (!selection.ports || selection.ports.some((r) => inRange(r, row.local.port) || inRange(r, row.remote.port))) &&
    endpointMatches(selection.local, row.local) &&
    endpointMatches(selection.remote, row.remote)
  );
}

export function selectsByOwner(selection: Selection, view: ConnectionView): boolean {
  const { row } = view;
  return (!selection.pids || (row.pid !== undefined && selection.pids.includes(row.pid))) && matches(selection.processes ? { processes: selection.processes } : undefined, row);
}

export function selects(selection: Selection, view: ConnectionView): boolean {
  return selectsWithoutOwner(selection, view) && selectsByOwner(selection, view);
}

/** `reset --yes` ends more sessions than this only with `--all` or `--count N`. */
export const RESET_CONFIRM_ABOVE = 10;

/**
 * Why ending `selected` (out of `endable`, every session reset could end now) needs `--all` or
 * `--count N`, or undefined. A selection is too broad when it takes more than RESET_CONFIRM_ABOVE
 * sessions, or when it takes every endable session and with them healthy ESTABLISHED ones
 * (`--port 0-65535` would end the operator's own ssh session).
 */
export function resetTooBroad(selected: readonly ConnectionView[], endable: readonly ConnectionView[]): string | undefined {
  const n = selected.length;
  if (n > RESET_CONFIRM_ABOVE) return `the selection matches ${n} sessions (more than ${RESET_CONFIRM_ABOVE})`;
  const healthy = selected.filter((v) => v.row.state === TcpState.ESTABLISHED && v.flag === undefined).length;
  if (n > 1 && n === endable.length && healthy > 0) return `the selection matches every session that can be ended (${n}, ${healthy} of them ESTABLISHED and not flagged)`;
  return undefined;
}
