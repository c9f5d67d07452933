import { splitCsv } from '../csv.js';

/** `tasklist /fo csv /nh`: "Image Name","PID",… in any language (only the first two columns are read). */
export function parseTasklist(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const { fields } of splitCsv(text)) {
    const [image, pidText] = fields;
    if (image && pidText && /^\d+$/.test(pidText)) names.set(Number(pidText), image);
  }
  return names;
}
