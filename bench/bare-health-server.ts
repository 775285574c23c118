// The floor the sidecar is measured against: the least a gRPC health server can be with
// @grpc/grpc-js and grpc-health-check. SERVING as soon as it listens; exits on SIGTERM.
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

const server = new grpc.Server();
new HealthImplementation({ '': 'SERVING' }).addToServer(server);
server.bindAsync(`127.0.0.1:${process.argv[2] ?? 50051}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
});
process.on('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
