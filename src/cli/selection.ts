import type { Endpoint } from '../core/address.js';
import type { ConnectionView } from '../core/evaluate.js';
import { matches, type PortRange, type TimedFlagKind } from '../core/policy.js';
import type { TcpState } from '../core/tcp-state.js';

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
  return (
    (!selection.pids || (row.pid !== undefined && selection.pids.includes(row.pid))) &&
    matches(selection.processes ? { processes: selection.processes } : undefined, row)
  );
}

export function selects(selection: Selection, view: ConnectionView): boolean {
  return selectsWithoutOwner(selection, view) && selectsByOwner(selection, view);
}
