// multipod-content-sync: settings → syncer + admin server; runMain gives the one shutdown path.
import { runMain } from '@multipod/service';
import { settings } from './config.ts';
import { startContentSync } from './server.ts';

await runMain({
  name: 'content-sync',
  summary:
    'sidecar that publishes a directory, a .tar.gz URL or a git repository as atomic snapshots behind TARGET/current',
  settings,
  start: startContentSync,
});
