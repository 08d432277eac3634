// After each publish: POST {"snapshot":"<id>"} to SYNC_WEBHOOK_URL, retried with exponential
// backoff. Only the newest snapshot matters, so a newer publish replaces a call still retrying.
// For a git source the call also carries the commit, in the body and, as git-sync's webhook does,
// in a Gitsync-Hash header (so a receiver written for git-sync works unchanged).
import type { Logger } from '@multipod/service';

export interface WebhookOptions {
  url: string;
  retries: number;
  timeoutMs: number;
  log: Logger;
  /** Counts each call's outcome (success, retry, failed). */
  onResult?: (result: 'success' | 'retry' | 'failed') => void;
  /** First backoff; doubles each retry, capped at 30s. */
  backoffMs?: number;
}

export class Webhook {
  readonly #opts: WebhookOptions;
  #current: AbortController | undefined;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(opts: WebhookOptions) {
    this.#opts = opts;
  }

  /** Starts notifying about `id` (in the background); resolves when that notification is over. */
  notify(id: string, commit?: string): Promise<void> {
    this.#current?.abort();
    const ctl = new AbortController();
    this.#current = ctl;
    this.#inFlight = this.#send(id, commit, ctl.signal);
    return this.#inFlight;
  }

  /** Resolves when the current notification (and its retries) is over. */
  idle(): Promise<void> {
    return this.#inFlight;
  }

  /** Gives up on retries still pending; waits for the call in flight. */
  async stop(): Promise<void> {
    this.#current?.abort();
    await this.#inFlight;
  }

  async #send(id: string, commit: string | undefined, signal: AbortSignal): Promise<void> {
    const { url, retries, timeoutMs, log } = this.#opts;
    let backoff = this.#opts.backoffMs ?? 250;
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      if (signal.aborted) return;
      let problem: string;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(commit ? { 'gitsync-hash': commit } : {}) },
          body: JSON.stringify(commit ? { snapshot: id, commit } : { snapshot: id }),
          signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          log.info({ webhook: url, snapshot: id, attempt, status: res.status }, 'webhook notified');
          this.#opts.onResult?.('success');
          return;
        }
        problem = `HTTP ${res.status}`;
      } catch (err) {
        if (signal.aborted) return;
        problem = (err as Error).cause
          ? String((err as Error & { cause: Error }).cause.message)
          : String(err);
      }
      if (attempt > retries) {
        log.error({ webhook: url, snapshot: id, attempts: attempt, problem }, 'webhook failed; giving up');
        this.#opts.onResult?.('failed');
        return;
      }
      log.warn(
        { webhook: url, snapshot: id, attempt, problem, retryIn: backoff },
        'webhook failed; retrying',
      );
      this.#opts.onResult?.('retry');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
      backoff = Math.min(backoff * 2, 30_000);
    }
  }
}
