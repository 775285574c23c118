// The sidecar container's postStart hook: the kubelet starts the runtime container only after
// it exits 0, so the runtime never runs before the sidecar takes control calls (Cancel, and
// /prestop for its preStop hook). It starts no interpreter: a /bin/sh loop that waits for the
// file the sidecar writes once both of its ports listen (`--started-file`). The Node program
// it replaces (`pea-runtime started`, a gRPC health client) cost every Pea pod a second
// Node start with grpc-js and protobufjs, on the node's CPU, while the sidecar itself started.
// The sidecar image needs /bin/sh and sleep (the official node images have both).

/** Where the sidecar writes that it takes control calls: in its own /tmp (an emptyDir). */
export const STARTED_FILE = '/tmp/pea-runtime.started';

/**
 * How long the gate sleeps before each look, in seconds: often while a sidecar on an idle
 * node may be about to listen (it takes 0.2–0.4 s), then less and less. Each look forks a
 * `sleep`; at a steady 20 ms, thirty pods starting at once on a busy node forked 1,500 of
 * them a second, which slowed the very sidecars they waited for.
 */
const POLLS: [count: number, seconds: number][] = [
  [5, 0.02],
  [4, 0.05],
  [7, 0.1],
];
/** After POLLS: a look every quarter second. */
const LAST_POLL_SECONDS = 0.25;

/** How many looks fit in `timeoutSeconds` with the schedule above. */
function looks(timeoutSeconds: number): number {
  let [n, t] = [0, 0];
  for (const [count, seconds] of POLLS)
    for (let i = 0; i < count && t < timeoutSeconds; i++) [n, t] = [n + 1, t + seconds];
  return n + Math.max(0, Math.ceil((timeoutSeconds - t) / LAST_POLL_SECONDS));
}

/**
 * The hook's command: exits 0 once `file` exists; 1 after about `timeoutSeconds` without it
 * (the kubelet then records FailedPostStartHook with the message and restarts the sidecar),
 * or at once if `sleep` is missing rather than spinning.
 */
export function startedGate(file: string, timeoutSeconds: number): string[] {
  if (!/^[\w./-]+$/.test(file)) throw new Error(`started file ${file}: only letters, digits, _ . / - here`);
  const failed =
    `the sidecar did not take control calls within ${timeoutSeconds}s (no ${file}); ` +
    'see its log: kubectl logs POD -c pea-runtime';
  // The look at which each step of POLLS ends, as `case` arms that set the next delay.
  let end = 0;
  const arms = POLLS.map(([count], i) => {
    end += count;
    return `${end}) d=${POLLS[i + 1]?.[1] ?? LAST_POLL_SECONDS};;`;
  }).join(' ');
  const script =
    `n=0; d=${POLLS[0]?.[1]}; until [ -e '${file}' ]; do ` +
    `n=$((n+1)); if [ "$n" -gt ${looks(timeoutSeconds)} ]; then echo '${failed}' >&2; exit 1; fi; ` +
    `sleep "$d" || exit 1; case $n in ${arms} esac; done`;
  return ['/bin/sh', '-c', script];
}
