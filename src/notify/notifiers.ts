import { hostname } from 'node:os';
import type { NotifierConfig } from '../config/parse-config.js';
import type { AlertNotification } from '../core/alerts.js';
import type { PendingNotification } from '../core/alert-outbox.js';
import type { CheckStatus } from '../core/evaluate.js';
import { plural } from '../core/plural.js';
import { RESPONSE_BODY_KEEP_BYTES } from '../platform/limits.js';
import { errorCode, type Platform } from '../platform/platform.js';
import { redactUrl, redactUrlsIn } from '../output/sanitize.js';

// Delivering check's notifications. Each notifier is tried on its own: one that fails is reported
// and never stops the others. Nothing here builds a shell command: exec runs the configured argv
// with the message on stdin; syslog runs `logger` with the line as one argument.

export interface AlertMessage {
  tool: 'tcpdwell';
  host: string;
  checkedAt: string;
  status: CheckStatus;
  source: string;
  notifications: NotificationJson[];
}

export interface NotificationJson {
  change: AlertNotification['change'];
  kind: AlertNotification['kind'];
  severity: AlertNotification['severity'];
  subject: string;
  key: string;
  firstFlaggedAt: string;
  measured: number | null;
  threshold: number | null;
  rule: string | null;
  /** Seconds in its state: now (flagged), or when last seen (resolved); null for count alerts. */
  dwellSeconds: number | null;
  /**
   * Only on a notification sent again after an earlier run failed to deliver it: when that run
   * polled. Its measured and dwellSeconds are of that time, not of checkedAt.
   */
  observedAt?: string;
}

export function notificationToJson(n: AlertNotification): NotificationJson {
  return {
    change: n.change,
    kind: n.kind,
    severity: n.severity,
    subject: n.subject,
    key: n.key,
    firstFlaggedAt: new Date(n.firstFlaggedMs).toISOString(),
    measured: n.current?.measured ?? null,
    threshold: n.current?.threshold ?? null,
    rule: n.current?.rule ?? null,
    dwellSeconds: dwellOf(n),
  };
}

function dwellOf(n: AlertNotification): number | null {
  const ms = n.current?.dwellMs ?? n.lastDwellMs;
  return ms === undefined ? null : Math.round(ms / 100) / 10;
}

export function alertMessage(status: CheckStatus, source: string, checkedAtMs: number, notifications: readonly AlertNotification[]): AlertMessage {
  return { tool: 'tcpdwell', host: hostname(), checkedAt: new Date(checkedAtMs).toISOString(), status, source, notifications: notifications.map(notificationToJson) };
}

/** One notifier's message: its undelivered notifications from earlier runs (with observedAt), then this run's. */
export function outboxMessage(status: CheckStatus, source: string, checkedAtMs: number, pending: readonly PendingNotification[]): AlertMessage {
  const message = alertMessage(status, source, checkedAtMs, []);
  message.notifications = pending.map((p) => {
    const json = notificationToJson(p.notification);
    if (p.atMs !== checkedAtMs) json.observedAt = new Date(p.atMs).toISOString();
    return json;
  });
  return message;
}

export interface Delivery {
  notifier: string;
  ok: boolean;
  error?: string;
}

export interface NotifyDependencies {
  platform: Platform;
  fetch?: typeof fetch;
  /** Waits between webhook retries (tests pass one that does not wait). */
  sleep: (ms: number) => Promise<void>;
  /** SIGINT/SIGTERM: ends a request under way and any retry still to come. */
  interrupt?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRIES = 3;
const FIRST_BACKOFF_MS = 1000;

export async function deliver(message: AlertMessage, notifiers: readonly NotifierConfig[], deps: NotifyDependencies): Promise<Delivery[]> {
  return Promise.all(notifiers.map((notifier) => deliverOne(message, notifier, deps)));
}

// A webhook is named by its origin only: the user, password, query and path (Slack and Discord
// put the token in the path) never reach stderr or the JSON `deliveries[]`.
function describe(notifier: NotifierConfig): string {
  switch (notifier.type) {
    case 'exec':
      return `exec ${notifier.command[0]}`;
    case 'webhook':
      return `webhook ${URL.canParse(notifier.url) ? new URL(notifier.url).origin : redactUrl(notifier.url)}`;
    case 'syslog':
      return 'syslog';
  }
}

async function deliverOne(message: AlertMessage, notifier: NotifierConfig, deps: NotifyDependencies): Promise<Delivery> {
  const name = describe(notifier);
  try {
    switch (notifier.type) {
      case 'exec':
        await runExec(message, notifier.command, notifier.timeout ?? 30_000, deps.platform);
        break;
      case 'webhook':
        await postWebhook(message, notifier, deps);
        break;
      case 'syslog':
        await writeSyslog(message, notifier, deps.platform);
        break;
    }
    return { notifier: name, ok: true };
  } catch (error) {
    // fetch quotes the URL in some errors ("…includes credentials: https://user:pass@…").
    const message = (error as Error).message;
    return { notifier: name, ok: false, error: notifier.type === 'webhook' ? redactUrlsIn(message.split(notifier.url).join(redactUrl(notifier.url))) : message };
  }
}

async function runExec(message: AlertMessage, command: readonly string[], timeoutMs: number, platform: Platform): Promise<void> {
  let result;
  try {
    result = await platform.run(command, { input: `${JSON.stringify(message)}\n`, timeoutMs });
  } catch (error) {
    throw new Error(errorCode(error) === 'ENOENT' ? `${command[0]}: no such program` : (error as Error).message, { cause: error });
  }
  if (result.exitCode !== 0) throw new Error(`${command[0]} exited with ${result.exitCode}${result.stderr.trim() ? `: ${result.stderr.trim().split('\n')[0]}` : ''}`);
}

async function postWebhook(message: AlertMessage, notifier: Extract<NotifierConfig, { type: 'webhook' }>, deps: NotifyDependencies): Promise<void> {
  const send = deps.fetch ?? fetch;
  const attempts = (notifier.retries ?? DEFAULT_RETRIES) + 1;
  let lastError = '';
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await deps.sleep(FIRST_BACKOFF_MS * 2 ** (attempt - 1));
    // Interrupted: the notifications stay unsent (and are sent by the next run); no more attempts.
    if (deps.interrupt?.aborted) throw new Error(`interrupted after ${plural(attempt, 'attempt')}`);
    const timeout = AbortSignal.timeout(notifier.timeout ?? DEFAULT_TIMEOUT_MS);
    try {
      // fetch verifies TLS certificates; there is deliberately no option to turn that off.
      const response = await send(notifier.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'tcpdwell', ...notifier.headers },
        body: JSON.stringify(message),
        signal: deps.interrupt ? AbortSignal.any([timeout, deps.interrupt]) : timeout,
      });
      await discardBody(response);
      if (response.ok) return;
      lastError = `HTTP ${response.status}`;
      // A client error other than timeout or rate limit will not change on retry.
      if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      if (deps.interrupt?.aborted) throw new Error(`interrupted during attempt ${attempt + 1}`, { cause: error });
      lastError = (error as Error).name === 'TimeoutError' ? 'timed out' : (cause?.code ?? cause?.message ?? (error as Error).message);
    }
  }
  throw new Error(`${lastError} after ${plural(attempts, 'attempt')}`);
}

/**
 * Reads at most RESPONSE_BODY_KEEP_BYTES of a response body, then drops the connection: the body
 * is never used, and a server that floods it (2 GB in the issue) must not fill memory.
 */
async function discardBody(response: Response): Promise<void> {
  const reader = response.body?.getReader();
  if (!reader) return;
  try {
    for (let read = 0; read <= RESPONSE_BODY_KEEP_BYTES;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // A body cut short (timeout, reset) changes nothing: the status has been received.
  }
}

/**
 * `change=flagged kind=half-close severity=warning subject="CLOSE_WAIT …"`: greppable, one line.
 * Values are JSON strings, and the characters JSON leaves raw that a log reader may take as a line
 * break or a terminal control (DEL, C1, U+2028/U+2029, bidi overrides) are `\uHHHH` escapes too: a process name
 * cannot forge a second syslog record.
 */
export function syslogLine(message: AlertMessage, n: NotificationJson): string {
  const fields: [string, string | number | null][] = [
    ['change', n.change],
    ['kind', n.kind],
    ['severity', n.severity],
    ['subject', n.subject],
    ['measured', n.measured],
    ['threshold', n.threshold],
    ['rule', n.rule],
    ['first_flagged', n.firstFlaggedAt],
    ['status', message.status],
    ['source', message.source],
  ];
  return fields
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}=${/^[\w.:/@[\]-]+$/.test(String(v)) ? v : jsonString(String(v))}`)
    .join(' ');
}

function jsonString(text: string): string {
  return JSON.stringify(text).replace(/[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

async function writeSyslog(message: AlertMessage, notifier: Extract<NotifierConfig, { type: 'syslog' }>, platform: Platform): Promise<void> {
  for (const n of message.notifications) {
    const severity = n.change === 'resolved' ? 'notice' : n.severity === 'critical' ? 'crit' : 'warning';
    const argv = ['logger', '-t', notifier.tag ?? 'tcpdwell', '-p', `${notifier.facility ?? 'daemon'}.${severity}`, ...(notifier.socket ? ['-u', notifier.socket] : []), '--', syslogLine(message, n)];
    let result;
    try {
      result = await platform.run(argv, { timeoutMs: 10_000 });
    } catch (error) {
      throw new Error(errorCode(error) === 'ENOENT' ? 'logger (util-linux) is not installed' : (error as Error).message, { cause: error });
    }
    if (result.exitCode !== 0) throw new Error(`logger exited with ${result.exitCode}: ${result.stderr.trim().split('\n')[0] ?? ''}`);
  }
}
