import { defineSource } from '../source-record.js';
import { bsdNetstatNotices, parseBsdNetstat } from './parse-netstat-bsd.js';

// macOS/BSD `netstat -an[A][l][b][v]` captures. Live, these systems are read through the
// systeminformation library (portable/records.ts).

export const macosNetstatRecord = defineSource({
  name: 'macos-netstat',
  vocabulary: 'bsd-netstat',
  input: {
    format: 'macos-netstat',
    choiceRank: 6,
    detect: /(^|\s)tcp(4|6|46)?\s+\d+\s+\d+\s+\S+\.[\d*]+\s+\S+\.[\d*]+/,
    detectRank: 50,
    emptyTableHeader: /^(Socket\s+(Flowhash\s+)?)?Proto\s+Recv-Q\s+Send-Q/,
    needsTableLine: true,
    parse: (body, { label }) => {
      const parsed = parseBsdNetstat(body);
      return { rows: parsed.rows, problems: parsed.problems, notices: bsdNetstatNotices(parsed, label) };
    },
  },
});
