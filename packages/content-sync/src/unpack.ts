// Unpacks an archive that checkArchive accepted into a private staging directory, with node-tar.
// Two things node-tar's `x()` does not do for us:
// - setuid, setgid and sticky bits are dropped on the way: a published file must never run with
//   its owner's rights, and its owner is this process's user (root, when run as root);
// - the unpack stops at once when `signal` fires (SIGTERM on a 100k-entry archive must not wait
//   for the last entry), and the promise rejects with the signal's reason;
// - reading stops at the end-of-archive blocks, as checkArchive's does: what follows is never
//   unpacked, and node-tar would buffer it at quadratic cost.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { type ReadEntry, Unpack } from 'tar';
import { isGzip } from './archive-check.ts';
import { SPECIAL_MODE_BITS } from './snapshot.ts';

export function unpackArchive(file: string, dir: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const input = createReadStream(file);
    // Decompressed here (checkArchive measured it): at the end-of-archive blocks the input is cut
    // with nothing of it left in node-tar's own decompressor.
    const tar = isGzip(file) ? input.pipe(createGunzip()) : input;
    const unpack = new Unpack({
      cwd: dir,
      strict: true,
      preserveOwner: false,
      // Called for every entry before it is written: the mode it is created with is this one.
      onReadEntry: (entry: ReadEntry) => {
        if (typeof entry.mode === 'number') entry.mode &= ~SPECIAL_MODE_BITS;
      },
    });
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onAbort = () => {
      settle(signal!.reason);
      input.destroy();
      tar.destroy();
      // node-tar emits an error for the abort; it is the signal's, already reported.
      unpack.on('error', () => undefined);
      unpack.abort(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    unpack.on('eof', () => {
      tar.unpipe(unpack);
      input.destroy();
      tar.destroy();
      unpack.end(); // node-tar finishes the entries in flight, then emits close
    });
    unpack.on('error', (err: Error) => settle(err));
    unpack.on('close', () => settle());
    input.on('error', (err) => settle(err));
    tar.on('error', (err: Error) => settle(err));
    tar.pipe(unpack);
  });
}
