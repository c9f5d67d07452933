import { parseNamedEndpoint } from '../../core/address.js';
import type { ParseProblem, ParseResult, SocketRow, SocketTimer } from '../../core/connection.js';
import { mapState } from '../../core/state-vocabularies.js';
import { TcpState } from '../../core/tcp-state.js';
import { UnusableInputError } from '../unusable-input.js';
import { plural } from '../../core/plural.js';

// net-tools `netstat -t[a][n][p][o][e]`:
//   Proto Recv-Q Send-Q Local Foreign State [User Inode] [PID/Program] [Timer]
// The state column is translated by gettext (de VERBUNDEN, es ESCUCHAR, cs `POSLEDNÍ ACK` with a
// space); without -n, hosts and services are names (`localhost:ssh`). -e adds User and Inode; -p
// the owner, `pid/name` cut to 19 characters, a name that may hold blanks (`9360/Passenger Ruby`).

const PID_PROGRAM = /^(\d+)\/(.*)$/;

// -o's timer group, the last thing netstat prints on a line (tcp_do_one in net-tools netstat.c):
// `NAME (SECONDS/RETRANSMITS/PROBES)`. gettext translates the whole group, so NAME may be any word
// (or two) and SECONDS has the locale's decimal mark; the numbers are what identify it. One Estonian
// translation opens with `((`, one Portuguese prints two numbers.
const TIMER_NUMBERS = /\(+(\d+[.,]\d+)\/(\d+)(?:\/(\d+))?\)/g;

// The timer names of net-tools' own translations (po/*.po, entries not marked fuzzy), by timer.
// timer_run 4 is the zero-window probe timer: the persist timer.
const TIMER_WORDS: Record<string, SocketTimer['name']> = {
  off: 'off',
  on: 'on',
  keepalive: 'keepalive',
  timewait: 'timewait',
  probe: 'persist',
  aturada: 'off',
  el: 'on',
  manténiu: 'keepalive',
  "temps d'espera": 'timewait',
  sonda: 'persist', // ca
  vyp: 'off',
  zapnut: 'on', // cs
  aus: 'off',
  ein: 'on', // de
  eikäi: 'off',
  käib: 'on', // et
  オフ: 'off',
  オン: 'on',
  キープアライブ: 'keepalive',
  時間待ち: 'timewait',
  プローブ: 'persist', // ja
  გამორთული: 'off',
  ჩართული: 'on',
  'ცოცხალი დატოვება': 'keepalive',
  'მოლოდინის დრო': 'timewait', // ka
  desligado: 'off',
  em: 'on', // pt_BR
  av: 'off',
  på: 'on', // sv
};
const TWO_WORD_TIMERS = Object.keys(TIMER_WORDS).filter((w) => w.includes(' '));

// tm->when is a signed delta printed unsigned: on kernels that did not clamp it, an expired timer
// shows as about 2^32 ticks (USER_HZ 100). Anything past 2^31 ticks is such a wrap.
const WRAPPED_SECONDS = 2 ** 31 / 100;

interface NetstatTimer {
  timer: SocketTimer;
  retransmits: number;
}

/**
 * net-tools netstat text → rows. A damaged row is a problem (1-based line number), never a throw;
 * throws UnusableInputError only when no line is a tcp row.
 */
export function parseLinuxNetstat(text: string): ParseResult<SocketRow> {
  const rows: SocketRow[] = [];
  const problems: ParseProblem[] = [];
  let sawRow = false;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const { body, timer } = splitTimer(line);
    const fields = body.trim().split(/\s+/);
    const protocol = fields[0];
    if (protocol !== 'tcp' && protocol !== 'tcp6') return; // headers in any language, udp, unix
    sawRow = true;
    const result = parseRow(fields, protocol);
    if (typeof result === 'string') {
      problems.push({ line: index + 1, message: result });
      return;
    }
    if (timer) {
      if (timer.timer.name !== 'off') result.timer = timer.timer;
      result.retransmits = timer.retransmits;
    }
    rows.push(result);
  });
  if (!sawRow && lines.some((l) => l.trim() !== '')) throw new UnusableInputError('no tcp rows: not net-tools netstat output');
  return { rows, problems };
}

/**
 * The line up to its timer group, and the timer. netstat ends the line right after the timer, so
 * whatever follows it (a pasted `\` line continuation, a quote) is not netstat's and is dropped.
 * Without a timer, only a trailing `\` continuation is dropped: the rest may be the owner's name.
 */
function splitTimer(line: string): { body: string; timer?: NetstatTimer } {
  let last: RegExpExecArray | undefined;
  TIMER_NUMBERS.lastIndex = 0;
  for (let match = TIMER_NUMBERS.exec(line); match; match = TIMER_NUMBERS.exec(line)) last = match;
  if (!last) return { body: line.replace(/\s+\\+\s*$/, '') };
  const head = line.slice(0, last.index).trimEnd();
  const word = TWO_WORD_TIMERS.find((w) => head.endsWith(` ${w}`)) ?? head.slice(head.search(/\S+$/));
  // A group glued to the text before it, or at the start of the line, is not netstat's timer.
  if (word === '' || last.index === head.length) return { body: line.replace(/\s+\\+\s*$/, '') };
  const seconds = Number(last[1]!.replace(',', '.'));
  return {
    body: head.slice(0, head.length - word.length),
    timer: {
      timer: { name: timerName(word), remainingMs: seconds >= WRAPPED_SECONDS ? 0 : Math.round(seconds * 1000) },
      retransmits: Number(last[2]),
    },
  };
}

function timerName(word: string): SocketTimer['name'] {
  return TIMER_WORDS[word] ?? 'other'; // unkn-N and its translations (nezn-N, 不明-N …)
}

/**
 * Without -W, net-tools netstat cuts an address so that address, ':' and port fill 23 characters
 * (netstat.c, tcp_do_one: `local_addr[22 - strlen(buffer)] = '\0'`): such text may be the start of
 * an address.
 */
const NET_TOOLS_ENDPOINT_WIDTH = 23;

function parseRow(fields: string[], protocol: 'tcp' | 'tcp6'): SocketRow | string {
  const [, receiveText = '', sendText = '', localText, remoteText, ...rest] = fields;
  if (localText === undefined || remoteText === undefined || rest.length === 0) return `truncated row: ${plural(fields.length, 'field')}, at least 6 expected`;
  if (!/^\d+$/.test(receiveText) || !/^\d+$/.test(sendText)) return `bad queue sizes "${receiveText} ${sendText}"`;
  const local = parseNamedEndpoint(localText, localText.length >= NET_TOOLS_ENDPOINT_WIDTH);
  const remote = parseNamedEndpoint(remoteText, remoteText.length >= NET_TOOLS_ENDPOINT_WIDTH);
  if (!local || !remote) return `bad address "${local ? remoteText : localText}"`;
  // The state runs up to the PID/Program column (or `-` where the owner is hidden).
  const ownerAt = rest.findIndex((f) => f === '-' || PID_PROGRAM.test(f));
  let stateWords = ownerAt < 0 ? rest : rest.slice(0, ownerAt);
  let mapped = mapState('linux-netstat', stateWords.join(' '));
  // -e: User (a name, or a number with -n) and Inode after the state. A state word is never digits.
  let user: string | undefined;
  let inode: string | undefined;
  if (mapped.state === TcpState.UNKNOWN && stateWords.length >= 3 && /^\d+$/.test(stateWords.at(-1)!)) {
    [user, inode] = stateWords.slice(-2);
    stateWords = stateWords.slice(0, -2);
    mapped = mapState('linux-netstat', stateWords.join(' '));
  }
  const row: SocketRow = {
    protocol,
    local: { address: local.address, port: local.port },
    remote: { address: remote.address, port: remote.port },
    // `0.0.0.0:*` with a translated LISTEN word is still a listener.
    state: mapped.state === TcpState.UNKNOWN && remote.port === 0 ? TcpState.LISTEN : mapped.state,
    rawState: mapped.rawState,
    receiveQueue: Number(receiveText),
    sendQueue: Number(sendText),
  };
  if (inode !== undefined) row.inode = Number(inode);
  if (user !== undefined && /^\d+$/.test(user)) row.uid = Number(user);
  const owner = ownerAt < 0 ? undefined : PID_PROGRAM.exec(rest.slice(ownerAt).join(' '));
  if (owner) {
    row.pid = Number(owner[1]);
    row.process = owner[2]!.trim();
  }
  return row;
}
