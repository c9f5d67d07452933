import { diagnoseAll, type HostFacts } from '../core/diagnosis.js';
import type { ConnectionView } from '../core/evaluate.js';
import { thresholdsFor, type Policy } from '../core/policy.js';
import { formatConnectionStory } from '../output/explain.js';

// The details pane's text (Enter on a row): `explain`'s story of one connection. Pure.

export interface DetailContext {
  /** Every row's owner has been looked up (not only the visible window's). */
  ownersComplete: boolean;
  facts: HostFacts;
  policy: Policy;
}

/**
 * The story of the connection `key` among `views`. Its diagnosis counts the sockets the owner
 * holds ("holds N CLOSE_WAIT sockets"), so it waits for every row's owner: with only the visible
 * rows' it would count too few, and disagree with `list` and `check`.
 */
export function detailText(views: readonly ConnectionView[], key: string, context: DetailContext): string {
  const view = views.find((v) => v.connection.key === key);
  if (!view) return 'This connection is gone: it closed since the details were opened.';
  if (!context.ownersComplete) return 'Looking up the owner of every connection…';
  const diagnosis = diagnoseAll(views, context.facts, (v) => v === view);
  const finding = diagnosis.byConnection.get(view.connection.key);
  return finding ? formatConnectionStory(view, finding, thresholdsFor(context.policy, view.row)) : view.row.state;
}
