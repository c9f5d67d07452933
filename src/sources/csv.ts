/**
 * Splits CSV text as PowerShell's Export-Csv and `tasklist /fo csv` write it: comma-separated,
 * fields in double quotes with "" for a quote, CRLF line ends. Returns one array per record with
 * its 1-based line number; a quote left open at the end of the text ends the last record.
 * `delimiter`: `;` where Export-Csv ran with -UseCulture in a culture that lists with it (de-DE).
 */
export function splitCsv(text: string, delimiter = ','): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let fieldStarted = false;
  const endRecord = () => {
    if (fieldStarted || fields.length > 0) {
      fields.push(field);
      records.push({ line: recordLine, fields });
    }
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"') {
      quoted = true;
      fieldStarted = true;
    } else if (c === delimiter) {
      fields.push(field);
      field = '';
      fieldStarted = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  endRecord();
  return records;
}
