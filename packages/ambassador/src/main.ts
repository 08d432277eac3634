// multipod-ambassador: only wires settings, logs and signals to the factory.
import { runMain } from '@multipod/service';
import { createAccessLog } from './access-log.ts';
import { type AmbassadorSettings, settings } from './config.ts';
import { createAmbassador } from './server.ts';

await runMain({
  name: 'ambassador',
  summary: 'port-translating, load-balancing proxy for a pod (HTTP and TCP)',
  settings,
  async start(config, log) {
    const accessLog = config.accessLog ? createAccessLog() : undefined;
    const amb = await createAmbassador(config as AmbassadorSettings, { log, accessLog });
    return {
      stop: () => amb.stop(),
      reload: () => {
        amb.reload();
      },
    };
  },
});
