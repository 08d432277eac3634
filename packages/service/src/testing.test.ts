import { describe, expect, it } from 'vitest';
import { waitFor } from './testing.ts';

describe('waitFor', () => {
  it('returns the first value that is neither undefined nor false', async () => {
    let n = 0;
    const got = await waitFor('the third call', () => (++n < 3 ? (n === 1 ? undefined : false) : 0), {
      intervalMs: 1,
    });
    expect(got).toBe(0);
    expect(n).toBe(3);
  });

  it('fails with what it waited for after the deadline', async () => {
    await expect(waitFor('never', () => false, { timeoutMs: 30, intervalMs: 5 })).rejects.toThrow(
      /timed out after 30ms waiting for never/,
    );
  });

  it('lets a throwing check fail at once, or retries it when asked, naming its last error', async () => {
    const boom = () => {
      throw new Error('boom');
    };
    await expect(waitFor('x', boom)).rejects.toThrow(/^boom$/);
    await expect(waitFor('x', boom, { timeoutMs: 30, intervalMs: 5, retryErrors: true })).rejects.toThrow(
      /waiting for x: Error: boom/,
    );
  });
});
