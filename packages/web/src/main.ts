// multipod-web: the main container. Only wires settings, logs and signals (see server.ts).
import { runMain } from '@multipod/service';
import { webSettings } from './config.ts';
import { createWeb } from './server.ts';

await runMain({
  name: 'web',
  summary: 'static files from a root that is swapped atomically (the pod patterns’ main container)',
  settings: webSettings,
  start: (config, log) => createWeb(config, { log }),
});
