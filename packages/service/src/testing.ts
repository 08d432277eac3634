// Test support shared by the components' suites (not part of any image): polling a condition with
// a deadline, the one loop every suite needs when it waits for a real process, file or socket;
// a free port for peers that must be told theirs.
import { createServer } from 'node:net';

export interface WaitOptions {
  /** Give up after this long (the error names `what`). */
  timeoutMs?: number;
  /** Pause between two checks. */
  intervalMs?: number;
  /** A check that throws counts as "not yet" (its last error goes into the timeout message). */
  retryErrors?: boolean;
}

/** Polls `check` until it returns something other than undefined or false, and returns that. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 10_000, intervalMs = 20, retryErrors = false }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      if (!retryErrors) throw err;
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A port the OS has just handed out on 127.0.0.1, for a peer (nginx, HAProxy) that cannot bind 0 and report it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}
