import type { ListReport } from '../app/reports.js';
import type { ConnectionView } from '../core/evaluate.js';
import { findingToJson, formatFinding } from './findings.js';
import { connectionToJson } from './json.js';
import { JsonArrayOf } from './json-text.js';
import { formatConnectionTable } from './table.js';

// `list` output: the rows of one poll as JSON (README "JSON output") or as the table, with
// --why's findings.

/**
 * The JSON array of one poll; with --why each row carries its finding (null when none). Its rows
 * are made as writeJson writes them (JsonArrayOf); JSON.stringify takes it as the array.
 */
export function listToJson(report: ListReport): JsonArrayOf<ConnectionView> {
  const { diagnosis, places } = report;
  return new JsonArrayOf(report.views, (view) => {
    const json = places ? { row: places.get(view)!, ...connectionToJson(view) } : connectionToJson(view);
    if (!diagnosis) return json;
    const finding = diagnosis.byConnection.get(view.connection.key);
    return { ...json, finding: finding ? findingToJson(finding) : null };
  });
}

/** The table, a finding's summary under each row with --why, then the findings of the rows shown in full. */
export function formatListText(report: ListReport): string {
  const { diagnosis, places } = report;
  const noteFor = (view: ConnectionView) => diagnosis?.byConnection.get(view.connection.key)?.summary;
  const numberOf = places ? (view: ConnectionView) => places.get(view)! : undefined;
  const table = formatConnectionTable(report.views, { ownersHidden: report.ownersHidden, noteFor, ...(numberOf ? { numberOf } : {}) });
  // Group findings are counted over the whole table (a leak's size), but shown only for the rows shown.
  const shown = new Set(report.views.map((v) => v.connection.key));
  const groups = diagnosis?.groups.filter((g) => g.connections.some((key) => shown.has(key))) ?? [];
  if (groups.length === 0) return table;
  return `${table}\nFindings:\n${groups.map((g) => formatFinding(g, '  ')).join('\n')}\n`;
}
