import type { Finding } from '../core/diagnosis.js';
import { sanitizeLine } from './sanitize.js';

// Findings as JSON (a public contract, like every JSON field; exact) and as indented text (each
// part sanitised: a summary names processes and rules).

export function findingToJson(finding: Finding) {
  return { code: finding.code, subject: finding.subject, summary: finding.summary, evidence: finding.evidence, nextStep: finding.nextStep };
}

export function formatFinding(finding: Finding, indent = ''): string {
  return [`${indent}${finding.summary}`, ...finding.evidence.map((e) => `${indent}  - ${e}`), `${indent}  next: ${finding.nextStep}`].map(sanitizeLine).join('\n');
}
