// `node demo/main.ts [full|sidecar|ambassador|adapter] [--port-base N] [--source DIR]`: the multi-container
// pod on this machine. Runs with plain node 24 (type stripping); see demo/README.md.
import { main } from './src/run.ts';

const code = await main(process.argv.slice(2));
process.exit(code);
