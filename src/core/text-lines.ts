// Text cut into lines, whole or as it arrives: pure, for the parsers and the platform's streams.

/** Cuts text arriving in chunks into lines (LF or CRLF) and hands each complete one on. */
export class LineSplitter {
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end >= 0; end = chunk.indexOf('\n', start)) {
      let line = start === 0 && this.pending ? this.pending + chunk.slice(0, end) : chunk.slice(start, end);
      if (start === 0) this.pending = '';
      if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
      this.onLine(line);
      start = end + 1;
    }
    this.pending = start === 0 ? this.pending + chunk : chunk.slice(start);
  }

  /** The last line, when the text does not end with a newline. */
  end(): void {
    if (this.pending) this.onLine(this.pending.replace(/\r$/, ''));
    this.pending = '';
  }
}

/** Every line of a whole text (LF or CRLF), in turn. */
export function forEachLine(text: string, onLine: (line: string) => void): void {
  const lines = new LineSplitter(onLine);
  lines.push(text);
  lines.end();
}

// Fields of a line, found by index rather than by split: at 100,000 rows the parsers run beside
// the kernel and must not allocate a token array per line. Blank is what \s means in ASCII.

export function isBlank(code: number): boolean {
  return code === 32 || code === 9 || code === 13 || code === 10 || code === 11 || code === 12;
}

/** The first non-blank at or after `from`, or line.length. */
export function skipBlanks(line: string, from: number): number {
  while (from < line.length && isBlank(line.charCodeAt(from))) from++;
  return from;
}

/** Where the field starting at `from` ends: the next blank, or line.length. */
export function tokenEnd(line: string, from: number): number {
  while (from < line.length && !isBlank(line.charCodeAt(from))) from++;
  return from;
}
