// A git repository over smart HTTP, with isomorphic-git (pure JavaScript: the image has no git).
// Each sync asks the server where the ref points (protocol v2 ls-refs: a few hundred bytes); the
// same commit as the one published is "unchanged". A new commit is fetched shallow (SYNC_DEPTH,
// default 1) as a thin pack against the commit fetched before, into an object store in memory
// (git-store.ts), and its tree is handed to the snapshot builder (git-tree.ts). A force-push or a
// moved tag is just another commit. A ref that disappears, a server that is down or refuses the
// credentials is a failed sync: the published snapshot stays.
import type { Logger } from '@multipod/service';
import git, { Errors, type ReadObjectResult } from 'isomorphic-git';
import type { Credentials } from './credentials.ts';
import type { Filter } from './filter.ts';
import { gitHttp } from './git-http.ts';
import { MemoryStore } from './git-store.ts';
import { type GitTree, readGitTree } from './git-tree.ts';
import { type FailureReason, SourceFailure } from './source-http.ts';

export interface GitSourceOptions {
  /** The repository's http(s) URL (SYNC_SOURCE without `git+`). */
  url: string;
  /** Branch, tag, full commit id, or a full ref name; undefined: the remote's HEAD. */
  ref: string | undefined;
  /** Commits of history to fetch; 0 = all. */
  depth: number;
  /** Folder of the repository to publish ('' = all of it). */
  root: string;
  filter: Filter;
  maxFiles: number;
  maxBytes: number;
  timeoutMs: number;
  /** Credentials, headers and CA (files read again at every request). */
  credentials?: Credentials | undefined;
  log: Logger;
}

export type GitFetched =
  | { readonly unchanged: true; readonly commit: string }
  | {
      readonly unchanged: false;
      readonly commit: string;
      readonly tree: GitTree;
      /** Call once the snapshot of `tree` is live: the next sync compares with it. */
      published(): void;
    };

const GITDIR = '/repo.git';
/** The last commit fetched, offered to the server as one we have (so it sends only what is new). */
const HAVE_REF = 'refs/content-sync/fetched';
/**
 * The store keeps every pack fetched (one per new commit, a few KB for a small change) as the base
 * the next thin pack builds on. It is emptied, and the next fetch is a whole one (a first clone's
 * time and memory), only once the packs fetched since the last whole fetch hold as much again as
 * it did (plus 1 MiB), or past this many packs (each object read looks through every pack).
 */
const MAX_PACKS = 256;
const GROWTH_SLACK = 2 ** 20;
const FULL_SHA = /^[0-9a-f]{40}$/;

interface Wanted {
  /** What to ask the server for: HEAD, a full ref name, or a commit id. */
  remoteRef: string;
  /** The commit it points to now (peeled). */
  commit: string;
  /** What it was resolved from, for messages: `refs/heads/main`, `HEAD -> refs/heads/main`… */
  shown: string;
}

export class GitSource {
  readonly #opts: GitSourceOptions;
  readonly #http: ReturnType<typeof gitHttp>;
  #store = new MemoryStore();
  #ready = false;
  /** Bytes the store held after its first (whole) fetch: what the later packs are measured against. */
  #wholeBytes: number | undefined;
  #signal: AbortSignal | undefined;
  #published: GitTree | undefined;
  /** isomorphic-git's cache of parsed packs, for one sync (the store holds the packs between syncs). */
  #cache: object = {};
  /** How a short ref resolved last time (a branch or a tag), tried first next time. */
  #kind: 'heads' | 'tags' = 'heads';

  constructor(opts: GitSourceOptions) {
    this.#opts = opts;
    this.#http = gitHttp({
      timeoutMs: opts.timeoutMs,
      maxBytes: opts.maxBytes,
      signal: () => this.#signal,
      ...(opts.credentials
        ? { credentials: () => opts.credentials!.headers(), ca: () => opts.credentials!.ca() }
        : {}),
      onMoved: (from, to) => opts.log.warn({ from, to }, 'the git repository answers from another URL'),
    });
  }

  /** The commit of the published snapshot, if this process published one. */
  get commit(): string | undefined {
    return this.#published?.commit;
  }

  async fetch(signal: AbortSignal): Promise<GitFetched> {
    this.#signal = signal;
    try {
      const t0 = performance.now();
      const want = await this.#resolve();
      if (want.commit === this.#published?.commit) return { unchanged: true, commit: want.commit };
      const t1 = performance.now();
      const commit = await this.#fetch(want);
      const t2 = performance.now();
      this.#cache = {};
      const tree = await readGitTree({
        fs: this.#store.fs,
        gitdir: GITDIR,
        cache: this.#cache,
        readBlob: async (oid) =>
          (await git.readBlob({ fs: this.#store.fs, gitdir: GITDIR, oid, cache: this.#cache })).blob,
        commit,
        root: this.#opts.root,
        source: `${this.#opts.url}#${this.#opts.root}`,
        filter: this.#opts.filter,
        maxFiles: this.#opts.maxFiles,
        maxBytes: this.#opts.maxBytes,
        previous: this.#published,
        signal,
      });
      this.#opts.log.debug(
        {
          ref: want.shown,
          commit,
          lsRefsMs: Math.round(t1 - t0),
          fetchMs: Math.round(t2 - t1),
          treeMs: Math.round(performance.now() - t2),
          packs: this.#store.list(`${GITDIR}/objects/pack`).length / 2,
          storeBytes: this.#store.bytes,
        },
        'fetched',
      );
      return {
        unchanged: false,
        commit,
        tree,
        published: () => {
          this.#published = tree;
          this.#cache = {};
          const bytes = this.#store.bytes;
          this.#wholeBytes ??= bytes;
          const packs = this.#store.list(`${GITDIR}/objects/pack`).length / 2;
          if (packs > MAX_PACKS || bytes > 2 * this.#wholeBytes + GROWTH_SLACK) this.#reset();
        },
      };
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const failure = this.#explain(err);
      // A store that may be damaged (a pack cut short, a base missing) is not trusted again.
      if (failure.reason === 'other') this.#reset();
      throw failure;
    } finally {
      this.#signal = undefined;
    }
  }

  /** Where the ref points now, asked of the server (ls-refs). */
  async #resolve(): Promise<Wanted> {
    const { ref, url } = this.#opts;
    if (ref && FULL_SHA.test(ref)) return { remoteRef: ref, commit: ref, shown: ref };
    const ls = async (prefix: string) =>
      git.listServerRefs({
        http: this.#http,
        url,
        prefix,
        symrefs: true,
        peelTags: true,
        protocolVersion: 2,
      });
    if (!ref) {
      const head = (await ls('HEAD')).find((r) => r.ref === 'HEAD');
      if (!head)
        throw new SourceFailure(
          `${url} has no HEAD (an empty repository?); set --ref / SYNC_REF`,
          'not_found',
        );
      return {
        remoteRef: 'HEAD',
        commit: head.peeled ?? head.oid,
        shown: head.target ? `HEAD -> ${head.target}` : 'HEAD',
      };
    }
    const order: Array<'heads' | 'tags'> = this.#kind === 'heads' ? ['heads', 'tags'] : ['tags', 'heads'];
    const names = ref.startsWith('refs/') ? [ref] : order.map((k) => `refs/${k}/${ref}`);
    for (const name of names) {
      const found = (await ls(name)).find((r) => r.ref === name);
      if (!found) continue;
      if (!ref.startsWith('refs/')) this.#kind = name.startsWith('refs/tags/') ? 'tags' : 'heads';
      return { remoteRef: name, commit: found.peeled ?? found.oid, shown: name };
    }
    const short = /^[0-9a-f]{4,39}$/.test(ref) ? '; a commit id must have all 40 hex digits' : '';
    throw new SourceFailure(
      `ref ${JSON.stringify(ref)} is not on ${url} (no branch or tag of that name: deleted, or never pushed?${short})`,
      'not_found',
    );
  }

  /** Fetches the wanted commit into the store; returns the commit id (a tag peeled). */
  async #fetch(want: Wanted): Promise<string> {
    const fs = this.#store.fs;
    if (!this.#ready) {
      await git.init({ fs, gitdir: GITDIR, bare: true });
      await git.setConfig({
        fs,
        gitdir: GITDIR,
        path: 'remote.origin.fetch',
        value: '+refs/*:refs/remotes/origin/*',
      });
      this.#ready = true;
    }
    const res = await git.fetch({
      fs,
      http: this.#http,
      gitdir: GITDIR,
      url: this.#opts.url,
      ref: HAVE_REF,
      remoteRef: want.remoteRef,
      singleBranch: true,
      tags: false,
      ...(this.#opts.depth > 0 ? { depth: this.#opts.depth } : {}),
    });
    let oid = res.fetchHead;
    if (!oid) throw new SourceFailure(`${this.#opts.url}: ${want.shown} sent nothing`, 'not_found');
    for (let hop = 0; ; hop++) {
      const obj: ReadObjectResult = await git
        .readObject({ fs, gitdir: GITDIR, oid, format: 'parsed' })
        .catch((err: Error) => {
          // Asked by id, a commit that no ref reaches is answered with nothing (and an ERR line).
          if (FULL_SHA.test(want.remoteRef) && (err as { code?: string }).code === Errors.NotFoundError.code)
            throw new SourceFailure(
              `${this.#opts.url} did not send commit ${want.remoteRef}: it is not there, or no branch or tag reaches it and the server does not let clients fetch such a commit by its id (git's uploadpack.allowAnySHA1InWant); name a branch or tag in --ref / SYNC_REF`,
              'refused',
            );
          throw err;
        });
      if (obj.type === 'commit') break;
      if (obj.type !== 'tag' || hop > 8)
        throw new SourceFailure(`${want.shown} names a ${obj.type}, not a commit`, 'refused');
      oid = (obj.object as { object: string }).object;
    }
    await git.writeRef({ fs, gitdir: GITDIR, ref: HAVE_REF, value: oid, force: true });
    return oid;
  }

  /** Forgets every object: the next fetch is a whole one. */
  #reset(): void {
    this.#wholeBytes = undefined;
    this.#store = new MemoryStore();
    this.#ready = false;
  }

  /** isomorphic-git's errors, in words that say what to do. */
  #explain(err: unknown): SourceFailure {
    if (err instanceof SourceFailure) return err;
    const { url } = this.#opts;
    const e = err as Error & { code?: string; data?: { statusCode?: number; statusMessage?: string } };
    const fail = (msg: string, reason: FailureReason) => new SourceFailure(msg, reason);
    if (e.code === Errors.HttpError.code) {
      const status = e.data?.statusCode ?? 0;
      const said = `${url} answered ${status} ${e.data?.statusMessage ?? ''}`.trim();
      const sent = this.#opts.credentials?.sends;
      if (status === 401)
        return fail(
          sent
            ? `${said}: the credentials were refused (${sent})`
            : `${said}: it asks for credentials (--username / SYNC_USERNAME with --password-file / SYNC_PASSWORD_FILE, or --bearer-token-file / SYNC_BEARER_TOKEN_FILE)`,
          'auth',
        );
      if (status === 403)
        return fail(`${said}: access refused${sent ? ` to the credentials (${sent})` : ''}`, 'auth');
      if (status === 404) return fail(`${said}: no git repository there`, 'not_found');
      return fail(said, status >= 500 ? 'unreachable' : 'other');
    }
    if (e.code === Errors.SmartHttpError.code)
      return fail(`${url} is not a smart-HTTP git server (${e.message})`, 'refused');
    const text = e.message ?? String(err);
    if (e.code === Errors.NotFoundError.code) return fail(`${url}: ${text}`, 'not_found');
    return fail(`git fetch from ${url} failed: ${text}`, 'other');
  }
}
