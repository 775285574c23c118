// The sidecar container's postStart hook: the kubelet starts the runtime container only after
// it exits 0, so the runtime never runs before the sidecar takes control calls (Cancel, and
// /prestop for its preStop hook). It starts no interpreter: a /bin/sh loop that waits for the
// file the sidecar writes once both of its ports listen (`--started-file`). The Node program
// it replaces (`pea-runtime started`, a gRPC health client) cost every Pea pod a second
// Node start with grpc-js and protobufjs, on the node's CPU, while the sidecar itself started.
// The sidecar image needs /bin/sh and sleep (the official node images have both).

/** Where the sidecar writes that it takes control calls: in its own /tmp (an emptyDir). */
export const STARTED_FILE = '/tmp/pea-runtime.started';

/** How often the gate looks for the file. */
const POLL_SECONDS = 0.02;

/**
 * The hook's command: exits 0 once `file` exists; 1 after about `timeoutSeconds` without it
 * (the kubelet then records FailedPostStartHook with the message and restarts the sidecar),
 * or at once if `sleep` is missing rather than spinning.
 */
export function startedGate(file: string, timeoutSeconds: number): string[] {
  if (!/^[\w./-]+$/.test(file)) throw new Error(`started file ${file}: only letters, digits, _ . / - here`);
  const tries = Math.ceil(timeoutSeconds / POLL_SECONDS);
  const failed =
    `the sidecar did not take control calls within ${timeoutSeconds}s (no ${file}); ` +
    'see its log: kubectl logs POD -c pea-runtime';
  const script =
    `n=0; until [ -e '${file}' ]; do ` +
    `n=$((n+1)); if [ "$n" -gt ${tries} ]; then echo '${failed}' >&2; exit 1; fi; ` +
    `sleep ${POLL_SECONDS} || exit 1; done`;
  return ['/bin/sh', '-c', script];
}
