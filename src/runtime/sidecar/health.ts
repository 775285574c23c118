// The sidecar's grpc.health.v1 service: grpc-health-check's HealthImplementation (2.1), with
// the same answers, on the hand-coded service definition of src/shared/health-proto.ts, whose
// import, unlike grpc-health-check's, parses no .proto during the start every Pea pod waits for.
import type * as grpc from '@grpc/grpc-js';
import {
  healthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type ServingStatus,
} from '../../shared/health-proto.js';

// Numeric, as grpc-health-check has them: importing grpc-js's enum here would save nothing.
const NOT_FOUND = 5;
const RESOURCE_EXHAUSTED = 8;
/** List refuses more services than this (grpc-health-check's limit). */
const LIST_LIMIT = 100;

type Watcher = (status: ServingStatus) => void;

/** Check, Watch and List over a map of service name → status; setStatus() tells the watchers. */
export class HealthService {
  private readonly statusMap = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<Watcher>>();

  constructor(initial: Record<string, ServingStatus> = {}) {
    for (const [name, status] of Object.entries(initial)) this.statusMap.set(name, status);
  }

  /** Sets `service`'s status and sends it to every Watch of that service. */
  setStatus(service: string, status: ServingStatus): void {
    this.statusMap.set(service, status);
    for (const w of this.watchers.get(service) ?? []) w(status);
  }

  /** Registers grpc.health.v1.Health on `server`. */
  addToServer(server: Pick<grpc.Server, 'addService'>): void {
    server.addService(healthService, {
      check: (
        call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
        cb: grpc.sendUnaryData<HealthCheckResponse>,
      ) => {
        const name = call.request.service;
        const status = this.statusMap.get(name);
        if (status) cb(null, { status });
        else cb({ code: NOT_FOUND, details: `Health status unknown for service ${name}` });
      },
      watch: (call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
        const name = call.request.service;
        const watcher: Watcher = (status) => void call.write({ status });
        let set = this.watchers.get(name);
        if (!set) this.watchers.set(name, (set = new Set()));
        set.add(watcher);
        call.on('cancelled', () => this.watchers.get(name)?.delete(watcher));
        call.write({ status: this.statusMap.get(name) ?? 'SERVICE_UNKNOWN' });
      },
      list: (_call: grpc.ServerUnaryCall<object, object>, cb: grpc.sendUnaryData<object>) => {
        if (this.statusMap.size > LIST_LIMIT)
          return cb({ code: RESOURCE_EXHAUSTED, details: 'Too many services to list.' }, null);
        const statuses: Record<string, HealthCheckResponse> = {};
        for (const [name, status] of this.statusMap) statuses[name] = { status };
        cb(null, { statuses });
      },
    });
  }
}
