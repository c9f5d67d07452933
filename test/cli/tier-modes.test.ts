import { describe, expect, it } from 'vitest';
import { parkSocketsHost, runOn } from '../fake-platform.js';

// Each front end asks for what it shows (issue 15): which of its polls read every state (a census)
// and which only the stuck states (ss with its `state` filter). The park-sockets host; fake clock.

/** For each ss run: whether it read every state (no `state` filter in its argv). */
async function censuses(argv: string[]): Promise<boolean[]> {
  const platform = parkSocketsHost();
  const { code } = await runOn(platform, argv);
  expect(code).toBeLessThan(3);
  return platform.ran.filter((a) => a[0] === 'ss').map((a) => !a.includes('state'));
}

describe('tiers per front end', () => {
  it('watch and check --window read every state first, then the stuck states', async () => {
    expect(await censuses(['watch', '--interval', '1s', '--iterations', '3'])).toEqual([true, false, false]);
    expect(await censuses(['check', '--no-state', '--window', '2s', '--interval', '1s'])).toEqual([true, false, false]);
  });

  it('--census-interval sets when the next census comes', async () => {
    expect(await censuses(['watch', '--interval', '1s', '--census-interval', '2s', '--iterations', '5'])).toEqual([true, false, true, false, true]);
  });

  it('list --watch reads every state while its table shows them all, and tiers a table of flagged or stuck sessions', async () => {
    expect(await censuses(['list', '--watch', '1s', '--iterations', '3'])).toEqual([true, true, true]);
    expect(await censuses(['list', '--watch', '1s', '--iterations', '3', '--flagged'])).toEqual([true, false, false]);
    expect(await censuses(['list', '--watch', '1s', '--iterations', '3', '--state', 'close-wait,syn-sent'])).toEqual([true, false, false]);
    expect(await censuses(['list', '--watch', '1s', '--iterations', '3', '--state', 'close-wait,established'])).toEqual([true, true, true]);
  });

  it('one-shot list and check read every state once', async () => {
    expect(await censuses(['list'])).toEqual([true]);
    expect(await censuses(['check', '--no-state'])).toEqual([true]);
  });
});
