// What the sidecar's flags default to and the operator's pod passes: one number each, so the
// pod the operator builds and `pea-runtime sidecar --help` cannot disagree.

/** The sidecar's gRPC port: grpc.health.v1 and peapods.v1.Lifecycle. */
export const SIDECAR_GRPC_PORT = 50051;

/** The sidecar's HTTP port: /prestop (the preStop hook), /healthz, /readyz, /status. */
export const SIDECAR_HTTP_PORT = 50052;

/** How long the sidecar's postStart hook (src/shared/started-gate.ts) waits for it to take control calls. */
export const STARTED_TIMEOUT_SECONDS = 60;
