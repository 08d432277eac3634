// multipod-log-adapter: tails an access log and serves Prometheus metrics on :9113.
import { runMain } from '@multipod/service';
import { createAdapter } from './adapter.ts';
import { settings } from './config.ts';

await runMain({
  name: 'log-adapter',
  summary: 'access log in, Prometheus metrics out (the adapter pattern)',
  settings,
  async start(config, log) {
    const adapter = createAdapter(config, { log });
    await adapter.start();
    return {
      stop: () => adapter.stop(),
      // SIGHUP: read ADAPTER_CONFIG again now (it is also watched).
      reload: () => {
        adapter.reload();
      },
    };
  },
});
