// Text wrapping for the overlays (help, details): pure, by characters, never cutting a word that fits.

/**
 * Words of `text` in lines of at most `width` characters; a word longer than that is cut up. A
 * paragraph's leading blanks are its indent (the details' history and exits lines): every line
 * the paragraph wraps to keeps it, as long as it leaves room for a word.
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    const lead = /^ */.exec(paragraph)![0];
    const indent = lead.length < width / 2 ? lead : '';
    const room = width - indent.length;
    let line = '';
    for (const word of paragraph.slice(lead.length).split(' ')) {
      let rest = [...word];
      const candidate = line ? `${line} ${word}` : word;
      if ([...candidate].length <= room) {
        line = candidate;
        continue;
      }
      if (line) lines.push(indent + line);
      while (rest.length > room) {
        lines.push(indent + rest.slice(0, room).join(''));
        rest = rest.slice(room);
      }
      line = rest.join('');
    }
    lines.push(line === '' ? '' : indent + line);
  }
  return lines;
}
