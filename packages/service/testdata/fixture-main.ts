// A minimal component started through runMain, for the run-main tests.
import { createServer } from 'node:http';
import {
  closeServer,
  commonSettings,
  FatalError,
  int,
  listen,
  oneOf,
  port,
  runMain,
  setting,
} from '../src/index.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await runMain({
  name: 'fixture',
  summary: 'test component',
  settings: {
    ...commonSettings('FIXTURE'),
    port: setting(port(), { flag: 'port', env: 'FIXTURE_PORT', default: '0', help: 'Port.' }),
    delay: setting(int(0, 60_000), { flag: 'delay', env: 'FIXTURE_DELAY', default: '0', help: 'Stop delay in ms.' }),
    startDelay: setting(int(0, 60_000), {
      flag: 'start-delay',
      env: 'FIXTURE_START_DELAY',
      default: '0',
      help: 'Start-up time in ms (logged as "starting" first).',
    }),
    once: setting(oneOf(['off', 'ok', 'fail'] as const), {
      flag: 'once',
      env: 'FIXTURE_ONCE',
      default: 'off',
      help: 'A one-shot run: no server, done after the start delay (ok), or failed (fail).',
    }),
  },
  async start(config, log) {
    log.info('starting');
    if (config.once !== 'off') {
      let cancel = () => {};
      const done = new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => (config.once === 'ok' ? resolve() : reject(new FatalError('one-shot failed', { why: 'asked' }))),
          config.startDelay,
        );
        cancel = () => {
          clearTimeout(t);
          resolve();
        };
      });
      return { stop: async () => cancel(), done };
    }
    await sleep(config.startDelay);
    const server = createServer((_req, res) => res.end('hi'));
    const bound = await listen(server, { port: config.port, host: '127.0.0.1', setting: '--port / FIXTURE_PORT' });
    log.info({ port: bound }, 'listening');
    return {
      async stop() {
        await sleep(config.delay);
        await closeServer(server);
        log.info('closed');
      },
      reload: () => log.info('reloaded'),
    };
  },
});
