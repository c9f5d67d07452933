// `--netns`: which network namespaces to read (Linux; sources/linux/netns*.ts read them).

/** What `--netns` names: every namespace, an `ip netns` name, a process's, or a namespace file. */
export type NetnsChoice = { kind: 'all' } | { kind: 'name'; name: string } | { kind: 'pid'; pid: number } | { kind: 'path'; path: string };

/**
 * `all`, a pid (digits), a path (has a `/`), else an `ip netns` name. Throws Error with a one-line
 * message for an empty value or a name ip netns would refuse.
 */
export function parseNetnsChoice(text: string): NetnsChoice {
  if (text === 'all') return { kind: 'all' };
  if (/^\d+$/.test(text)) {
    const pid = Number(text);
    if (pid < 1 || !Number.isSafeInteger(pid)) throw new Error(`"${text}" is not a process id`);
    return { kind: 'pid', pid };
  }
  if (text.includes('/')) return { kind: 'path', path: text };
  // ip-netns(8) takes the name as a file name under /run/netns.
  if (text === '' || text === '.' || text === '..') throw new Error(`"${text}" is not a namespace name`);
  return { kind: 'name', name: text };
}

/** The `--netns` text back, for messages. */
export function netnsChoiceText(choice: NetnsChoice): string {
  return choice.kind === 'all' ? 'all' : choice.kind === 'name' ? choice.name : choice.kind === 'pid' ? String(choice.pid) : choice.path;
}
