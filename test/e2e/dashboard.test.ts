import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatEndpoint } from '../../src/core/address.js';
import { whyNoProgram } from '../needs-program.js';
import { CLI, ParkedNamespace, whyNotRunnable } from './parked-namespace.js';

// The real dashboard in a real terminal: tmux runs it inside a namespace with known stuck
// sessions; the test types keys and reads the screen back.

const skip = whyNotRunnable() ?? whyNoProgram('tmux', 'tmux', '-V');
if (skip) console.warn(`skipping the dashboard end-to-end test: ${skip}`);

/** A tmux server of its own (`-L socket`): runs commands, reads a session's screen, types keys. */
function tmuxServer(socket: string) {
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const screen = (session: string, escapes = false) => tmux('capture-pane', '-t', session, '-p', ...(escapes ? ['-e'] : []));
  const keys = (session: string, ...k: string[]) => tmux('send-keys', '-t', session, ...k);

  /** The screen once `test` holds and the frame stays put; throws with the last screen after ~15 s. */
  async function until(session: string, test: (text: string) => boolean, what: string): Promise<string> {
    let text = '';
    for (let i = 0; i < 60; i++) {
      text = screen(session);
      // A frame is read only once it stays put: under load tmux can be read halfway through
      // one (smartCSR scrolls lines, then clears them), showing rows of two frames at once.
      if (test(text)) {
        await delay(150);
        if (screen(session) === text) return text;
        continue;
      }
      await delay(250);
    }
    throw new Error(`the dashboard never showed ${what}; the screen was:\n${text}`);
  }

  return { tmux, screen, keys, until };
}

/** The table's connection rows on a screen. */
const tableRows = (text: string) => text.split('\n').filter((l) => /^│(LISTEN|ESTABLISHED|SYN_SENT|SYN_RECEIVED|FIN_WAIT_[12]|CLOSE_WAIT|TIME_WAIT|LAST_ACK|CLOSING) /.test(l));

describe.skipIf(skip !== undefined)('dashboard in tmux', () => {
  const ns = new ParkedNamespace();
  const socket = `tcpdwell-test-${process.pid}`;
  const { tmux, screen, keys, until } = tmuxServer(socket);

  /** Starts the dashboard in a detached session of the given size; the shell line after it reports its exit. */
  const open = (session: string, width: number, height: number, env: string[], args = '--interval 1s --half-open 2s --half-close 2s --idle 1h', namespace = ns) =>
    tmux(
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      String(width),
      '-y',
      String(height),
      `env ${env.join(' ')} ip netns exec ${namespace.name} ${process.execPath} ${CLI} ${args}; echo TCPDWELL-EXITED $?; sleep 600`,
    );

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

  it('the filter prompt is labelled and types each key once, on its second use too; Esc clears the filter (80×24, TERM=linux, NO_COLOR)', async () => {
    const s = 'prompt';
    open(s, 80, 24, ['TERM=linux', 'NO_COLOR=1']);
    await until(s, (t) => tableRows(t).length > 0, 'the table');
    keys(s, '/');
    await until(s, (t) => /^filter: _/m.test(t), 'the labelled prompt');
    keys(s, 'f', 'i', 'n');
    await until(s, (t) => /^filter: fin_/m.test(t), 'the typed text');
    keys(s, 'Enter');
    let text = await until(s, (t) => t.includes('filter "fin"'), 'the filter applied');
    expect(tableRows(text).every((r) => r.startsWith('│FIN_WAIT_2'))).toBe(true);
    // The second use: the prompt opens on "fin"; each key once, one Backspace one character.
    keys(s, '/');
    await until(s, (t) => /^filter: fin_/m.test(t), 'the prompt on the filter in force');
    keys(s, 'BSpace');
    await until(s, (t) => /^filter: fi_/m.test(t), 'one character deleted');
    keys(s, 'BSpace', 'BSpace', 'c', 'l', 'o', 's', 'e');
    text = await until(s, (t) => /^filter: close_/m.test(t), 'each key typed once');
    expect(text).not.toMatch(/ccll|fiin/);
    keys(s, 'Enter');
    text = await until(s, (t) => t.includes('filter "close"'), 'the second filter applied');
    expect(tableRows(text).every((r) => r.startsWith('│CLOSE_WAIT'))).toBe(true);
    keys(s, 'Escape');
    text = await until(s, (t) => !t.includes('filter "'), 'Esc clearing the filter');
    expect(tableRows(text).length).toBeGreaterThan(3);
    keys(s, 'q');
    expect(await until(s, (t) => t.includes('TCPDWELL-EXITED'), 'the exit')).toMatch(/TCPDWELL-EXITED 0/);
  }, 60_000);

  it('help fits the terminal from 80×24 up and names every key, q included; at 80×24 it scrolls to its end', async () => {
    for (const [s, width, height, env] of [
      ['help-small', 80, 24, ['TERM=linux', 'NO_COLOR=1']],
      ['help-wide', 120, 40, ['TERM=xterm-256color', 'LANG=C.UTF-8', 'NCURSES_NO_UTF8_ACS=1']],
    ] as const) {
      open(s, width, height, [...env]);
      await until(s, (t) => tableRows(t).length > 0, 'the table');
      keys(s, '?');
      let text = await until(s, (t) => t.includes('tcpdwell dashboard keys'), 'the help');
      expect(text.split('\n').every((line) => [...line].length <= width)).toBe(true);
      // Everything seen, scrolling where it must: the main keys, the prompt's and the last section.
      let seen = text;
      for (let i = 0; i < 40 && !/^.*In this help/m.test(seen); i++) {
        keys(s, 'PageDown');
        await delay(150);
        text = screen(s);
        seen += text;
      }
      for (const words of ['move the selection', 'filter: states', 'clear the filter', 'flagged only', 'pause / resume', 'this help', 'apply the filter', 'In this help'])
        expect(seen).toContain(words);
      expect(seen).toMatch(/│ +q Ctrl-C +quit +│/);
      // No word cut at the box's edge: the ends of the longest help lines are there whole.
      for (const end of ['every word must match', 'local, remote, process', 'remote host, local port', 'the group shown']) expect(seen.replace(/\s*│\s*/g, ' ').replace(/\s+/g, ' ')).toContain(end);
      keys(s, 'x');
      await until(s, (t) => !t.includes('tcpdwell dashboard keys') && !t.includes('In this help'), 'the help closing');
      keys(s, 'q');
      await until(s, (t) => t.includes('TCPDWELL-EXITED'), 'the exit');
    }
  }, 90_000);

  it('trend chart at 120×40: whole-number y ticks in equal steps down to 0, x labels relative (… now); hidden at 80×24', async () => {
    const s = 'trend';
    open(s, 120, 40, ['TERM=xterm-256color', 'LANG=C.UTF-8', 'NCURSES_NO_UTF8_ACS=1']);
    const text = await until(s, (t) => /│ *now *│/.test(t) && (t.match(/half-close!/g) ?? []).length >= 6, 'the trend with the flags');
    const ticks = text
      .split('\n')
      .map((line) => /(\d+) │[ *cs]*│\s*$/.exec(line)?.[1])
      .filter((tick): tick is string => tick !== undefined)
      .map(Number);
    expect(ticks.length).toBeGreaterThanOrEqual(5);
    expect(ticks.at(-1)).toBe(0);
    const steps = new Set(ticks.slice(1).map((tick, i) => ticks[i]! - tick));
    expect([...steps]).toHaveLength(1);
    expect([...steps][0]).toBeGreaterThanOrEqual(1);
    // The flagged count (7 here) is on the chart: its top tick reaches it.
    expect(ticks[0]).toBeGreaterThanOrEqual(7);
    expect(text).toContain('* flagged  c CLOSE_WAIT  s SYN_SENT');
    const chart = text.split('\n').slice(4, 14).join('\n');
    expect(chart).not.toMatch(/\d\d:\d\d/);
    keys(s, 'q');
    await until(s, (t) => t.includes('TCPDWELL-EXITED'), 'the exit');

    open('trend-small', 80, 24, ['TERM=linux', 'NO_COLOR=1']);
    const small = await until('trend-small', (t) => (t.match(/half-close!/g) ?? []).length >= 6, 'the flags');
    expect(small).not.toContain('trend');
    expect(small).not.toMatch(/ now\b/);
    expect(tableRows(small).length).toBeGreaterThanOrEqual(15);
    keys('trend-small', 'q');
  }, 60_000);

  it('TERM=linux in colour draws nothing black or bright black (the borders); below 80×24 it says so, and draws once the terminal grows', async () => {
    const s = 'console';
    open(s, 80, 24, ['TERM=linux']);
    await until(s, (t) => (t.match(/half-close!/g) ?? []).length >= 6, 'the flags');
    const escapes = screen(s, true);
    expect(escapes).toMatch(/\x1b\[[0-9;]*33m/); // colour is on: warnings yellow
    // Foreground black (30), bright black (90) or their 256-colour forms: invisible on a console.
    const sgr = [...escapes.matchAll(/\x1b\[([0-9;]*)m/g)].map((m) => m[1]!.split(';'));
    expect(sgr.filter((codes) => codes.includes('30') || codes.includes('90') || /38;5;(0|8)\b/.test(codes.join(';')))).toEqual([]);
    keys(s, 'q');
    await until(s, (t) => t.includes('TCPDWELL-EXITED'), 'the exit');

    const tiny = 'tiny';
    open(tiny, 70, 20, ['TERM=linux', 'NO_COLOR=1']);
    let text = await until(tiny, (t) => t.includes('terminal too small (80×24 needed'), 'the notice');
    expect(tableRows(text)).toEqual([]);
    expect(text.split('\n').filter((l) => l.trim()).length).toBeLessThanOrEqual(3);
    tmux('resize-window', '-t', tiny, '-x', '100', '-y', '30');
    text = await until(tiny, (t) => tableRows(t).length > 0, 'the table after the terminal grew');
    expect(text).not.toContain('terminal too small');
    keys(tiny, 'q');
    expect(await until(tiny, (t) => t.includes('TCPDWELL-EXITED'), 'the exit')).toMatch(/TCPDWELL-EXITED 0/);
  }, 60_000);

  it('TERM=dumb: one line saying why, exit 64, no run-together screen (breaker 13)', async () => {
    const s = 'dumb';
    open(s, 100, 30, ['TERM=dumb'], 'dashboard --interval 1s');
    const text = await until(s, (t) => t.includes('TCPDWELL-EXITED'), 'the exit');
    expect(text).toMatch(/TCPDWELL-EXITED 64/);
    expect(text).toContain('tcpdwell: the dashboard cannot draw on TERM=dumb (no cursor movement)');
    expect(text).not.toMatch(/flagged|connections/);
  }, 30_000);

  it('Ctrl-C during a slow poll quits at once: the hanging ss is killed, the terminal restored (breaker 1)', async () => {
    // The `ss` here is a script first on PATH (written for the test): its first run prints a
    // one-row table in ss's shape, every later run records its pid and hangs for 30 s.
    const bin = mkdtempSync(join(tmpdir(), 'tcpdwell-x1-slow-ss-'));
    try {
      const marker = join(bin, 'polled');
      const hanging = join(bin, 'hanging.pid');
      const table = 'State      Recv-Q Send-Q      Local Address:Port        Peer Address:Port Process\\nLISTEN     0      16              127.0.0.1:40957            0.0.0.0:*\\n';
      writeFileSync(join(bin, 'ss'), `#!/bin/sh\nif [ -e ${marker} ]; then echo $$ > ${hanging}; exec sleep 30; fi\ntouch ${marker}\nprintf '${table}'\n`, { mode: 0o755 });
      const s = 'slow';
      open(s, 100, 30, ['TERM=xterm-256color', 'NO_COLOR=1', `PATH=${bin}:${process.env.PATH ?? ''}`], '--interval 1s --source ss');
      await until(s, (t) => t.includes('127.0.0.1:40957'), 'the first table');
      for (let i = 0; i < 40 && !existsSync(hanging); i++) await delay(100);
      const pid = Number(readFileSync(hanging, 'utf8'));
      await delay(300);
      const asked = Date.now();
      keys(s, 'C-c');
      const text = await until(s, (t) => t.includes('TCPDWELL-EXITED'), 'the exit');
      expect(Date.now() - asked).toBeLessThan(5000); // not ss's 30 s, nor the 10 s poll timeout
      expect(text).toMatch(/TCPDWELL-EXITED 0/);
      expect(text).not.toContain('40957');
      expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.skipIf(skip !== undefined)('dashboard owners and groups in tmux (a leaking process, nothing flagged)', () => {
  // 20 extra CLOSE_WAIT sockets in the helper and thresholds of an hour: no row is flagged, so
  // owners come only from the dashboard's lookups for what it shows (16.4) and from the full
  // lookup its details and process groups need (16.5).
  const ns = new ParkedNamespace();
  const socket = `tcpdwell-test-owners-${process.pid}`;
  const { tmux, keys, until } = tmuxServer(socket);
  let owners = new Map<string, string>();
  let pid = 0;
  let closeWaits = 0;

  /** [local, remote, owner cell] of a table row; LISTEN's `:*` is list's port 0. */
  const cells = (row: string) => {
    const [, local, remote, owner] = row.slice(1).split(/\s+/);
    return [local!, remote!.replace(/:\*$/, ':0'), owner!] as const;
  };

  beforeAll(async () => {
    await ns.start(['--leak', '20']);
    pid = ns.helperPid!;
    const listed = await ns.tcpdwell(['list', '--json']);
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as { local: { address: string; port: number }; remote: { address: string; port: number }; state: string; pid: number | null; process: string | null }[];
    // As the table writes them: `pid/process`, or `-`.
    owners = new Map(rows.map((r) => [`${formatEndpoint(r.local)} ${formatEndpoint(r.remote)}`, r.pid === null ? '-' : `${r.pid}/${r.process}`]));
    closeWaits = rows.filter((r) => r.pid === pid && r.state === 'CLOSE_WAIT').length;
  }, 30_000);

  afterAll(() => {
    try {
      tmux('kill-server');
    } catch {
      // no server left
    }
    ns.stop();
  });

  const SIZES = [
    ['owners-wide', 120, 40, ['TERM=xterm-256color', 'LANG=C.UTF-8', 'NCURSES_NO_UTF8_ACS=1']],
    ['owners-small', 80, 24, ['TERM=linux', 'NO_COLOR=1']],
  ] as const;

  for (const [s, width, height, env] of SIZES) {
    it(`${width}×${height} ${env[0]}: every visible row names the owner list names, after scrolling too; Enter on the process group shows exactly its rows; the details count what list counts`, async () => {
      // A poll every 30 s: owners of rows scrolled into view must come from the scroll, not the next poll.
      tmux(
        'new-session',
        '-d',
        '-s',
        s,
        '-x',
        String(width),
        '-y',
        String(height),
        `env ${env.join(' ')} ip netns exec ${ns.name} ${process.execPath} ${CLI} --interval 30s --half-open 1h --half-close 1h --idle 1h; echo TCPDWELL-EXITED $?; sleep 600`,
      );
      /** Visible rows whose owner cell disagrees with list's owner of that connection (cut to the column with …). */
      const mismatches = (text: string) =>
        tableRows(text)
          .map(cells)
          .filter(([local, remote]) => !local.includes('…') && !remote.includes('…'))
          .filter(([local, remote, cell]) => {
            const listed = owners.get(`${local} ${remote}`);
            return listed === undefined || (cell.endsWith('…') ? !listed.startsWith(cell.slice(0, -1)) : cell !== listed);
          })
          .map((row) => `${row.join(' ')} (list: ${owners.get(`${row[0]} ${row[1]}`)})`);
      const owned = (text: string) => tableRows(text).filter((r) => r.includes(`${pid}/pyth`)).length;
      // Within 15 s, half the poll interval: the owners come from the lookup for what is shown.
      let text = await until(s, (t) => tableRows(t).length > 5 && mismatches(t).length === 0, 'every row with its owner');
      expect(text).not.toMatch(/half-(open|close)!/);
      expect(owned(text)).toBeGreaterThan(10);
      const firstPage = tableRows(text)[0];
      // The first PageDown takes the selection to the window's last row, the second scrolls.
      keys(s, 'PageDown', 'PageDown');
      text = await until(s, (t) => tableRows(t)[0] !== firstPage && mismatches(t).length === 0, 'the next page with its owners');
      expect(owned(text)).toBeGreaterThan(10);

      // Group by process: the helper's group counts every socket list says it holds.
      const held = [...owners.values()].filter((o) => o === `${pid}/python3`).length;
      expect(closeWaits).toBe(23); // the 3 parked ones and the 20 of --leak
      keys(s, 'g');
      const group = new RegExp(`python3\\[${pid}\\] +${held} +0 +${closeWaits}\\b`);
      text = await until(s, (t) => t.includes('by process') && group.test(t), `the helper's group of ${held}`);
      expect(text).not.toContain('(owners being looked up)');
      keys(s, 'Home', 'Enter');
      text = await until(s, (t) => t.includes(`connections 1/${held}`), `exactly the group's ${held} rows`);
      expect(text).toContain(`process python3[${pid}]`);
      expect(new Set(tableRows(text).map((r) => r.split(/\s+/)[0]))).toEqual(new Set(['│LISTEN', '│ESTABLISHED', '│CLOSE_WAIT', '│FIN_WAIT_2', '│SYN_SENT'].filter((st) => text.includes(st))));
      expect(tableRows(text).every((r) => r.includes(`${pid}/pyth`))).toBe(true);

      // The details of one of its CLOSE_WAIT sockets: "holds 23", as list counts.
      keys(s, '/');
      await until(s, (t) => /^filter: _/m.test(t), 'the prompt');
      keys(s, 'c', 'l', 'o', 's', 'e', '-', 'w', 'a', 'i', 't', 'Enter');
      text = await until(s, (t) => t.includes(`connections 1/${closeWaits}`), 'the CLOSE_WAIT rows of the group');
      keys(s, 'Enter');
      text = await until(s, (t) => t.includes('CLOSE_WAIT socket'), 'the details');
      expect(text.replace(/[│\s]+/g, ' ')).toContain(`python3[${pid}] holds ${closeWaits} CLOSE_WAIT sockets`);
      keys(s, 'Escape');
      await until(s, (t) => !t.includes('CLOSE_WAIT sockets'), 'the details closing');
      keys(s, 'q');
      expect(await until(s, (t) => t.includes('TCPDWELL-EXITED'), 'the exit')).toMatch(/TCPDWELL-EXITED 0/);
    }, 60_000);
  }
});
