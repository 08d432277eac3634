// Wires one content-sync process: the syncer, and the admin server (/healthz /readyz /metrics, POST /sync).
// With --once it syncs and waits for the webhook; runMain then exits 0 (published or unchanged),
// or 1 with the reason.
import {
  type CommonSettings,
  closeServer,
  createAdminServer,
  FatalError,
  type Logger,
  listen,
  type Running,
  SettingError,
} from '@multipod/service';
import { type Config, resolveSource } from './config.ts';
import { Credentials } from './credentials.ts';
import { Syncer } from './syncer.ts';
import { checkTarget } from './target.ts';
import { readToken, triggerRoute } from './trigger.ts';

export interface StartedContentSync extends Running {
  readonly syncer: Syncer;
  /** Bound admin port (useful with port 0); none with --once. */
  readonly adminPort: number | undefined;
}

export async function startContentSync(
  config: Config & CommonSettings,
  log: Logger,
): Promise<StartedContentSync> {
  const source = resolveSource(config);
  checkTarget(config.target, source);
  if (config.triggerTokenFile !== undefined)
    try {
      readToken(config.triggerTokenFile);
    } catch (err) {
      throw new SettingError(
        `invalid setting --trigger-token-file / SYNC_TRIGGER_TOKEN_FILE: ${JSON.stringify(config.triggerTokenFile)} cannot be read as a token: ${(err as Error).message}`,
      );
    }
  const credentials = new Credentials(config);
  const given = credentials.any;
  if (source.kind === 'dir' && given)
    throw new SettingError(
      `invalid setting ${given}: applies to URL sources (git+https://…, a .tar.gz URL), and --source is the directory ${config.source}`,
    );
  const syncer = new Syncer(config, source, { log, credentials });
  await syncer.prepare();
  log.info(
    { source: config.source, target: config.target, kind: source.kind, once: config.once },
    'content-sync starting',
  );

  if (config.once) {
    const done = (async () => {
      const outcome = await syncer.syncNow();
      await syncer.flush();
      if (outcome.result === 'error')
        throw new FatalError(`sync failed: ${outcome.error}`, { source: config.source });
      log.info(
        {
          snapshot: outcome.snapshot,
          ...(outcome.commit ? { commit: outcome.commit } : {}),
          result: outcome.result,
        },
        'synced once; exiting',
      );
    })();
    return { syncer, adminPort: undefined, stop: () => syncer.stop(), done };
  }

  const admin = createAdminServer({
    health: syncer.health,
    registry: syncer.metrics.registry,
    routes: [triggerRoute({ wake: () => syncer.wake(), tokenFile: config.triggerTokenFile, log })],
  });
  const adminPort = await listen(admin, {
    port: config.adminPort,
    host: config.adminHost,
    setting: '--admin-port / SYNC_ADMIN_PORT',
  });
  log.info({ port: adminPort }, 'admin server listening (/healthz /readyz /metrics, POST /sync)');
  // The first sync may take a while on a big tree; probes are answered meanwhile.
  const started = syncer.start();
  return {
    syncer,
    adminPort,
    async stop() {
      await syncer.stop();
      await started.catch(() => undefined);
      await closeServer(admin);
    },
  };
}

export type { Logger };
