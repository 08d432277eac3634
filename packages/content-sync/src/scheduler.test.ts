// The scheduler alone, on vitest's fake clock: when syncs start and what each is told to read.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Changes, Scheduler } from './scheduler.ts';

interface Seen {
  at: number;
  forced: string[];
  dirty: string[] | 'all';
}

/** A scheduler whose syncs are recorded; each takes `syncMs` of fake time. */
function make(
  opts: {
    debounce?: number;
    interval?: number;
    syncMs?: number;
    before?: () => Promise<void> | undefined;
  } = {},
) {
  const seen: Seen[] = [];
  let active = 0;
  let overlapped = false;
  const scheduler = new Scheduler<number>({
    debounce: opts.debounce ?? 20,
    interval: opts.interval ?? 60_000,
    before: opts.before,
    async sync(changes: Changes) {
      if (++active > 1) overlapped = true;
      seen.push({
        at: Date.now(),
        forced: [...changes.forced].sort(),
        dirty: changes.dirty ? [...changes.dirty].sort() : 'all',
      });
      if (opts.syncMs) await new Promise((r) => setTimeout(r, opts.syncMs));
      active--;
      return seen.length;
    },
  });
  return { scheduler, seen, overlapped: () => overlapped };
}

let t0 = 0;
beforeEach(() => {
  vi.useFakeTimers();
  t0 = Date.now();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Scheduler', () => {
  it('wake() (POST /sync) syncs at once, reading everything; wake-ups during a sync become one more', async () => {
    const { scheduler, seen, overlapped } = make({ syncMs: 100 });
    const first = scheduler.syncNow();
    await vi.advanceTimersByTimeAsync(100);
    await first;
    scheduler.start();
    scheduler.changed(['/src/a']);
    scheduler.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.slice(1)).toEqual([{ at: t0 + 100, forced: [], dirty: 'all' }]);
    for (let i = 0; i < 5; i++) scheduler.wake();
    await vi.advanceTimersByTimeAsync(1_000);
    // The five wake-ups during the second sync: one more, a debounce after it.
    expect(seen.map((s) => s.at - t0)).toEqual([0, 100, 220]);
    expect(overlapped()).toBe(false);
    scheduler.stop();
  });

  it('reads everything on the first sync, then only what changed', async () => {
    const { scheduler, seen } = make();
    await scheduler.syncNow();
    scheduler.changed(['/src/a'], ['a/x.html']);
    await vi.advanceTimersByTimeAsync(20);
    expect(seen).toEqual([
      { at: t0, forced: [], dirty: 'all' },
      { at: t0 + 20, forced: ['a/x.html'], dirty: ['/src/a'] },
    ]);
    scheduler.stop();
  });

  it('turns a burst of changes into one sync, after the quiet time', async () => {
    const { scheduler, seen } = make({ debounce: 20 });
    await scheduler.syncNow();
    for (let i = 0; i < 5; i++) {
      scheduler.changed([`/src/d${i}`], [`d${i}/f`]);
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(seen).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual({
      at: t0 + 60,
      forced: ['d0/f', 'd1/f', 'd2/f', 'd3/f', 'd4/f'],
      dirty: ['/src/d0', '/src/d1', '/src/d2', '/src/d3', '/src/d4'],
    });
    scheduler.stop();
  });

  it('never lets changes that keep coming hold a sync back more than a second', async () => {
    const { scheduler, seen } = make({ debounce: 20 });
    await scheduler.syncNow();
    for (let i = 0; i < 150; i++) {
      scheduler.changed(['/src']);
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(seen.map((s) => s.at - t0)).toEqual([0, 1000]);
    scheduler.stop();
  });

  it('runs one sync at a time: a change during a sync is synced right after it', async () => {
    const { scheduler, seen, overlapped } = make({ debounce: 20, syncMs: 100 });
    const first = scheduler.syncNow();
    await vi.advanceTimersByTimeAsync(50);
    scheduler.changed(['/src/late'], ['late.txt']);
    expect(scheduler.syncNow()).toBe(first); // asked during a sync: that sync's promise
    await vi.advanceTimersByTimeAsync(50); // the first sync ends at 100
    expect(await first).toBe(1);
    await vi.advanceTimersByTimeAsync(20 + 100);
    expect(seen.map((s) => [s.at - t0, s.dirty])).toEqual([
      [0, 'all'],
      [120, ['/src/late']],
    ]);
    expect(overlapped()).toBe(false);
    scheduler.stop();
  });

  it('rescans everything every interval once started', async () => {
    const { scheduler, seen } = make({ interval: 1000 });
    await scheduler.syncNow();
    scheduler.start();
    scheduler.changed(['/src/a']);
    await vi.advanceTimersByTimeAsync(20);
    await vi.advanceTimersByTimeAsync(2000);
    expect(seen.map((s) => [s.at - t0, s.dirty])).toEqual([
      [0, 'all'],
      [20, ['/src/a']],
      [1001, 'all'], // the tick, then a timer of 0 ms (which Node runs after 1 ms)
      [2001, 'all'],
    ]);
    scheduler.stop();
  });

  it('after a failure: the changes go back, everything is read, and the retry comes within a second', async () => {
    const { scheduler, seen } = make({ interval: 60_000 });
    await scheduler.syncNow();
    const lost: Changes = { forced: new Set(['x.html']), dirty: new Set(['/src/x']) };
    scheduler.retry(lost); // before start(): a one-shot run is not retried
    await vi.advanceTimersByTimeAsync(5000);
    expect(seen).toHaveLength(1);
    scheduler.start();
    scheduler.retry(lost);
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen.map((s) => [s.at - t0, s.forced, s.dirty])).toEqual([
      [0, [], 'all'],
      [6000, ['x.html'], 'all'],
    ]);
    scheduler.stop();
  });

  it('a sync waits for `before`, and takes the changes that arrive meanwhile', async () => {
    let gate: Promise<void> | undefined;
    let release = () => {};
    const { scheduler, seen } = make({ before: () => gate });
    await scheduler.syncNow();
    gate = new Promise<void>((r) => {
      release = r;
    });
    const second = scheduler.syncNow();
    scheduler.changed(['/src/during'], ['during.txt']);
    await vi.advanceTimersByTimeAsync(5);
    expect(seen).toHaveLength(1);
    release();
    await second;
    expect(seen[1]).toMatchObject({ forced: ['during.txt'], dirty: ['/src/during'] });
    scheduler.stop();
  });

  it('starts nothing after stop(): no debounced sync, no tick, no retry', async () => {
    const { scheduler, seen } = make({ interval: 100 });
    await scheduler.syncNow();
    scheduler.start();
    scheduler.changed(['/src/a']);
    scheduler.stop();
    scheduler.retry({ forced: new Set(), dirty: undefined });
    await vi.advanceTimersByTimeAsync(5000);
    expect(seen).toHaveLength(1);
  });
});
