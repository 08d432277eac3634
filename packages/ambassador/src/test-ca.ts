// The test certificate authority: a CA, a server certificate for upstream.test and 127.0.0.1, and a
// client certificate for mutual TLS, committed in testdata/tls (regenerate with testdata/tls/make.sh).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  caFile: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCertFile: string;
  clientKeyFile: string;
}

export function makeTestCa(): TestCa {
  const dir = join(import.meta.dirname, '../testdata/tls');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    ca: read('ca.pem'),
    serverCert: read('server.pem'),
    serverKey: read('server.key'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
  };
}
