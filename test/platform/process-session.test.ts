import { describe, expect, it } from 'vitest';
import { nodePlatform } from '../../src/platform/platform.js';

// The long-lived session behind the PowerShell source, on a real process (cat echoes its input).
describe('nodePlatform().openSession', () => {
  it('answers each exchange with the output before the end marker, from one process', async () => {
    const session = nodePlatform().openSession(['cat']);
    try {
      expect(await session.exchange('first\nline two\n__end__\n', '__end__', 5000)).toBe('first\nline two\n');
      expect(await session.exchange('second\n__end__\n', '__end__', 5000)).toBe('second\n');
    } finally {
      session.close();
    }
  });

  it('a missing program fails the exchange with ENOENT; a silent one times out', async () => {
    const missing = nodePlatform().openSession(['/nonexistent/tcpdwell-no-such-program']);
    await expect(missing.exchange('x\n', 'END', 5000)).rejects.toMatchObject({ code: 'ENOENT' });
    const silent = nodePlatform().openSession(['sleep', '30']);
    await expect(silent.exchange('x\n', 'END', 200)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('a process that exits before answering fails the exchange, and the next exchange starts a new one', async () => {
    const session = nodePlatform().openSession(['head', '-n', '1']);
    await expect(session.exchange('only\nnever-the-marker\n', 'END', 5000)).rejects.toMatchObject({ code: 'EEXITED' });
    await expect(session.exchange('again\n', 'again', 5000)).resolves.toBe('');
    session.close();
  });
});
