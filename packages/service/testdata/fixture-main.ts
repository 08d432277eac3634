// A minimal component started through runMain, for the run-main tests.
import { createServer } from 'node:http';
import { closeServer, commonSettings, int, listen, port, runMain, setting } from '../src/index.ts';

await runMain({
  name: 'fixture',
  summary: 'test component',
  settings: {
    ...commonSettings('FIXTURE'),
    port: setting(port(), { flag: 'port', env: 'FIXTURE_PORT', default: '0', help: 'Port.' }),
    delay: setting(int(0, 60_000), { flag: 'delay', env: 'FIXTURE_DELAY', default: '0', help: 'Stop delay in ms.' }),
  },
  async start(config, log) {
    const server = createServer((_req, res) => res.end('hi'));
    const bound = await listen(server, { port: config.port, host: '127.0.0.1', setting: '--port / FIXTURE_PORT' });
    log.info({ port: bound }, 'listening');
    return {
      async stop() {
        await new Promise((r) => setTimeout(r, config.delay));
        await closeServer(server);
      },
      reload: () => log.info('reloaded'),
    };
  },
});
