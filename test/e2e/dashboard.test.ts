import { execFileSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ParkedNamespace, whyNoProgram, whyNotRunnable } from './parked-namespace.js';

// The real dashboard in a real terminal: tmux runs it inside a namespace with known stuck
// sessions; the test types keys and reads the screen back.

const skip = whyNotRunnable() ?? whyNoProgram('tmux', 'tmux', '-V');
if (skip) console.warn(`skipping the dashboard end-to-end test: ${skip}`);

describe.skipIf(skip !== undefined)('dashboard in tmux', () => {
  const ns = new ParkedNamespace();
  const socket = `tcpdwell-test-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const screen = (session: string, escapes = false) => tmux('capture-pane', '-t', session, '-p', ...(escapes ? ['-e'] : []));
  const keys = (session: string, ...k: string[]) => tmux('send-keys', '-t', session, ...k);

  /** Starts the dashboard in a detached session of the given size; the shell line after it reports its exit. */
  const open = (session: string, width: number, height: number, env: string[]) =>
    tmux(
      'new-session', '-d', '-s', session, '-x', String(width), '-y', String(height),
      `env ${env.join(' ')} ip netns exec ${ns.name} ${process.execPath} ${CLI} --interval 1s --half-open 2s --half-close 2s --idle 1h; echo TCPDWELL-EXITED $?; sleep 600`,
    );

  async function until(session: string, test: (text: string) => boolean, what: string): Promise<string> {
    let text = '';
    for (let i = 0; i < 60; i++) {
      text = screen(session);
      if (test(text)) return text;
      await delay(250);
    }
    throw new Error(`the dashboard never showed ${what}; the screen was:\n${text}`);
  }

  const tableRows = (text: string) => text.split('\n').filter((l) => /^│(LISTEN|ESTABLISHED|SYN_SENT|SYN_RECEIVED|FIN_WAIT_[12]|CLOSE_WAIT|TIME_WAIT|LAST_ACK|CLOSING) /.test(l));

  beforeAll(async () => {
    await ns.start();
  }, 20_000);

  afterAll(() => {
    try {
      tmux('kill-server');
    } catch {
      // no server left
    }
    ns.stop();
  });

  it('shows the stuck sessions flagged first; f, /, g and q do what they say; the terminal is restored', async () => {
    const s = 'wide';
    open(s, 120, 40, ['TERM=xterm-256color', 'LANG=C.UTF-8', 'NCURSES_NO_UTF8_ACS=1']);
    let text = await until(s, (t) => (t.match(/half-close!/g) ?? []).length === 6 && t.includes('half-open!'), 'six half-close flags');
    const rows = tableRows(text);
    expect(rows).toHaveLength(22);
    // Flagged first: every flagged row comes before every unflagged one.
    const flags = rows.map((r) => /(half-open|half-close|idle)!/.test(r));
    expect(flags.indexOf(false)).toBeGreaterThan(flags.lastIndexOf(true));
    expect(rows.filter((r) => r.startsWith('│CLOSE_WAIT') && r.includes('half-close!'))).toHaveLength(3);
    expect(text).toMatch(/thresholds: half-open 2s {2}half-close 2s {2}idle 1h/);
    // Colour by severity: warnings are drawn yellow.
    expect(screen(s, true)).toMatch(/\x1b\[[0-9;]*33m/);

    keys(s, 'f');
    text = await until(s, (t) => t.includes('flagged only'), 'the flagged-only view');
    expect(tableRows(text).every((r) => /(half-open|half-close)!/.test(r))).toBe(true);
    expect(tableRows(text).length).toBeGreaterThanOrEqual(7);

    keys(s, 'f', '/');
    await delay(300);
    keys(s, 'close-wait', 'Enter');
    text = await until(s, (t) => t.includes('filter "close-wait"'), 'the filter');
    expect(tableRows(text).map((r) => r.split(/\s+/)[0])).toEqual(['│CLOSE_WAIT', '│CLOSE_WAIT', '│CLOSE_WAIT']);

    keys(s, 'g');
    text = await until(s, (t) => t.includes('by process'), 'the grouping by process');
    expect(text).toMatch(new RegExp(`python3\\[${ns.helperPid}\\] +3 +3 +3`));

    keys(s, 'Enter');
    text = await until(s, (t) => t.includes('connections 1/3'), 'the group opened as a filter');
    keys(s, 'Enter');
    text = await until(s, (t) => t.includes('Finding:'), 'the detail pane');
    expect(text).toMatch(/In CLOSE_WAIT for at least/);
    // Apart: ESC followed at once by q reads as Alt-q.
    keys(s, 'Escape');
    await until(s, (t) => !t.includes('Finding:'), 'the detail pane closing');
    keys(s, 'q');
    text = await until(s, (t) => t.includes('TCPDWELL-EXITED'), 'the exit');
    expect(text).toMatch(/TCPDWELL-EXITED 0/);
    // The alternate screen is gone: none of the dashboard is left on the terminal.
    expect(text).not.toContain('connections');
    expect(text).not.toContain('half-close!');
  }, 60_000);

  it('TERM=linux at 80×24 with NO_COLOR: it fits, draws no colour, and quits cleanly', async () => {
    const s = 'small';
    open(s, 80, 24, ['TERM=linux', 'NO_COLOR=1']);
    const text = await until(s, (t) => (t.match(/half-close!/g) ?? []).length >= 6, 'the flags');
    expect(text.split('\n').every((line) => [...line].length <= 80)).toBe(true);
    expect(screen(s, true)).not.toMatch(/\x1b\[[0-9;]*3[1-7]m/);
    keys(s, '?');
    await until(s, (t) => t.includes('tcpdwell dashboard keys'), 'the help');
    keys(s, 'x');
    await until(s, (t) => !t.includes('tcpdwell dashboard keys'), 'the help closing');
    keys(s, 'q');
    expect(await until(s, (t) => t.includes('TCPDWELL-EXITED'), 'the exit')).toMatch(/TCPDWELL-EXITED 0/);
  }, 60_000);
});
