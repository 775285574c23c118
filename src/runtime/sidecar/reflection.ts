// gRPC server reflection on the sidecar's gRPC port, so that `grpcurl list` and `describe`
// work without the proto file. It describes services and messages only: every
// peapods.v1.Lifecycle call still needs the control token (control-auth.ts), and nothing it
// answers is secret (the proto is public). Loaded lazily: the service is registered with
// stand-in handlers at no cost, and @grpc/reflection, with the descriptors it indexes, is
// loaded on the first reflection call, never during the start every Pea pod waits for.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type protobuf from 'protobufjs';
import { readFileSync } from 'node:fs';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { DESCRIPTOR_FILE, protoDir } from '../../shared/lifecycle-proto.js';

const require = createRequire(import.meta.url);

/** The reflection services @grpc/reflection serves (v1 and the older v1alpha grpcurl may ask for). */
export const REFLECTION_SERVICES = [
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
] as const;
const METHOD = 'ServerReflectionInfo';

type Real = Map<
  string,
  { definition: grpc.MethodDefinition<unknown, unknown>; handler: grpc.UntypedHandleCall }
>;
let real: Real | undefined;

/** The package the sidecar serves (Lifecycle and grpc.health.v1), as proto-loader defines it. */
function servedPackage(): protoLoader.PackageDefinition {
  const lifecycle = JSON.parse(
    readFileSync(join(protoDir(), DESCRIPTOR_FILE), 'utf8'),
  ) as protobuf.INamespace;
  return { ...protoLoader.fromJSON(lifecycle), ...protoLoader.loadSync(healthProtoPath) };
}

/** @grpc/reflection's handlers, built once on first use by letting it add itself to a recorder. */
function load(): Real {
  if (real) return real;
  const { ReflectionService } = require('@grpc/reflection') as typeof import('@grpc/reflection');
  const found: Real = new Map();
  new ReflectionService(servedPackage()).addToServer({
    addService(service: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) {
      const definition = service[METHOD] as grpc.MethodDefinition<unknown, unknown>;
      found.set(definition.path, { definition, handler: impl[METHOD] as grpc.UntypedHandleCall });
    },
  });
  real = found;
  return found;
}

/** A stand-in for one reflection service: each hook loads the real one when first called. */
function lazyService(service: string): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const path = `/${service}/${METHOD}`;
  const get = () => {
    const r = load().get(path);
    if (!r) throw new Error(`@grpc/reflection does not serve ${path}`);
    return r;
  };
  const definition: grpc.MethodDefinition<unknown, unknown> = {
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize: (v) => get().definition.requestSerialize(v),
    requestDeserialize: (b) => get().definition.requestDeserialize(b),
    responseSerialize: (v) => get().definition.responseSerialize(v),
    responseDeserialize: (b) => get().definition.responseDeserialize(b),
  };
  const handler = ((call: grpc.ServerDuplexStream<unknown, unknown>) =>
    (get().handler as grpc.handleBidiStreamingCall<unknown, unknown>)(call)) as grpc.UntypedHandleCall;
  return [{ [METHOD]: definition }, { [METHOD]: handler }];
}

/** Registers reflection on `server`; nothing is loaded until a client asks. */
export function addReflection(server: Pick<grpc.Server, 'addService'>): void {
  for (const s of REFLECTION_SERVICES) server.addService(...lazyService(s));
}
