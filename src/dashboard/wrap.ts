// Text wrapping for the overlays (help, details): pure, by characters, never cutting a word that fits.

/** Words of `text` in lines of at most `width` characters; a word longer than that is cut up. */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      let rest = [...word];
      const candidate = line ? `${line} ${word}` : word;
      if ([...candidate].length <= width) {
        line = candidate;
        continue;
      }
      if (line) lines.push(line);
      while (rest.length > width) {
        lines.push(rest.slice(0, width).join(''));
        rest = rest.slice(width);
      }
      line = rest.join('');
    }
    lines.push(line);
  }
  return lines;
}
