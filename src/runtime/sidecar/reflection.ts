// gRPC server reflection on the sidecar's gRPC port, so that `grpcurl list` and `describe`
// work without the proto file. It describes services and messages only: every
// peapods.v1.Lifecycle call still needs the control token (control-auth.ts), and nothing it
// answers is secret (the proto is public). Loaded lazily: the service is registered with
// stand-in handlers at no cost, and @grpc/reflection, with the descriptors it indexes, is
// loaded on the first reflection call, never during the start every Pea pod waits for.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { protoDir } from '../../shared/lifecycle-proto.js';

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

/** Where each package's file is, for the names reflection gives the files. */
const FILE_NAMES: Record<string, string> = {
  'peapods.v1': 'peapods/v1/lifecycle.proto',
  'google.protobuf': 'google/protobuf/timestamp.proto',
  'grpc.health.v1': 'grpc/health/v1/health.proto',
};

type MessageProto = {
  name: string;
  field?: Array<{ name: string; typeName?: string }>;
  nestedType?: MessageProto[];
};
type FileProto = {
  name: string;
  package: string;
  dependency: string[];
  messageType?: MessageProto[];
  enumType?: Array<{ name: string }>;
  service?: Array<{
    name: string;
    method?: Array<{ name: string; inputType?: string; outputType?: string }>;
  }>;
};

/**
 * The files the sidecar serves (Lifecycle, its Timestamp, grpc.health.v1) as descriptors
 * grpcurl can link. protobufjs (which proto-loader uses too) writes type names as written in
 * the .proto and files without their imports, so a client cannot resolve a field's type:
 * each name is replaced by the absolute one protobufjs resolved, and each file lists the
 * files it uses. Parsed from the .proto text, so fields keep their names (started_time).
 */
function servedFiles(): Uint8Array[] {
  const protobuf = require('protobufjs') as typeof import('protobufjs');
  const descriptor = require('protobufjs/ext/descriptor') as {
    FileDescriptorProto: { encode(f: object): { finish(): Uint8Array } };
  };
  const root = new protobuf.Root();
  // Required here, not imported: grpc-health-check parses its .proto when loaded.
  const { protoPath: healthProtoPath } = require('grpc-health-check') as typeof import('grpc-health-check');
  root.loadSync([join(protoDir(), 'peapods/v1/lifecycle.proto'), healthProtoPath], { keepCase: true });
  root.resolveAll();
  const files = (root as unknown as { toDescriptor(s: string): { file: FileProto[] } }).toDescriptor(
    'proto3',
  ).file;
  const owner = new Map<string, FileProto>();
  const own = (f: FileProto, scope: string, m: MessageProto): void => {
    owner.set(`${scope}.${m.name}`, f);
    for (const n of m.nestedType ?? []) own(f, `${scope}.${m.name}`, n);
  };
  for (const f of files) {
    f.name = FILE_NAMES[f.package] ?? f.name;
    for (const m of f.messageType ?? []) own(f, f.package, m);
    for (const e of f.enumType ?? []) owner.set(`${f.package}.${e.name}`, f);
  }
  for (const f of files) {
    const uses = new Set<string>();
    const absolute = (resolved: { fullName: string } | null | undefined): string | undefined => {
      if (!resolved) return undefined;
      const file = owner.get(resolved.fullName.slice(1));
      if (file && file !== f) uses.add(file.name);
      return resolved.fullName;
    };
    // Each type name is looked up as protobuf does: from the message outwards. A map's
    // entry message exists only in the descriptor; its names resolve from the enclosing one.
    const fix = (scope: string, m: MessageProto): void => {
      const here = `${scope}.${m.name}`;
      const ns = (root.lookup(here) ?? root.lookup(scope)) as import('protobufjs').Namespace | null;
      for (const field of m.field ?? [])
        if (field.typeName) field.typeName = absolute(ns?.lookup(field.typeName)) ?? field.typeName;
      for (const n of m.nestedType ?? []) fix(here, n);
    };
    for (const m of f.messageType ?? []) fix(f.package, m);
    for (const svc of f.service ?? []) {
      const methods = root.lookupService(`${f.package}.${svc.name}`).methods;
      for (const m of svc.method ?? []) {
        m.inputType = absolute(methods[m.name]?.resolvedRequestType);
        m.outputType = absolute(methods[m.name]?.resolvedResponseType);
      }
    }
    f.dependency = [...uses];
  }
  return files.map((f) => descriptor.FileDescriptorProto.encode(f).finish());
}

/** @grpc/reflection's handlers, built once on first use by letting it add itself to a recorder. */
function load(): Real {
  if (real) return real;
  const { ReflectionService } = require('@grpc/reflection') as typeof import('@grpc/reflection');
  const found: Real = new Map();
  // @grpc/reflection reads only fileDescriptorProtos of a package definition's entries.
  const pkg = { files: { fileDescriptorProtos: servedFiles() } } as unknown as protoLoader.PackageDefinition;
  new ReflectionService(pkg).addToServer({
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
