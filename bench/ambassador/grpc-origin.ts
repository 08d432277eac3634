// The gRPC origin of the benchmark: @grpc/grpc-js serving the test Echo service's Unary call on an
// h2c port. Usage: node grpc-origin.ts <port>
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';

const proto = join(import.meta.dirname, '../../packages/ambassador/testdata/grpc/echo.proto');
const pkg = grpc.loadPackageDefinition(loader.loadSync(proto, { keepCase: true })) as unknown as {
  multipod: { test: { Echo: grpc.ServiceClientConstructor } };
};
const server = new grpc.Server();
server.addService(pkg.multipod.test.Echo.service, {
  Unary(call: grpc.ServerUnaryCall<{ text: string; n: number }, unknown>, cb: grpc.sendUnaryData<unknown>) {
    cb(null, { text: call.request.text, n: call.request.n + 1 });
  },
});
server.bindAsync(`127.0.0.1:${process.argv[2]}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
});
