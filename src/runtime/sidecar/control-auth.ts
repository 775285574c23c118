// Who may make control calls. Any pod in the cluster can reach a Pea pod's IP, so with
// --token-file the sidecar takes Lifecycle calls only with the Pea's token (a Secret the
// operator owns, mounted into the sidecar only). The file is read on every call: the
// kubelet rotates a mounted Secret by swapping the `..data` symlink, and a fresh read
// follows the swap without a restart or a file watcher (watchers lose symlink swaps).
// A missing or blank file refuses every call; it never falls open.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../shared/logger.js';
import { presentedToken, readTokenFile, tokenMatches } from '../../shared/bearer.js';

/** A refused control call: the gRPC status and what to tell the caller. */
export interface Refusal {
  code: grpc.status;
  details: string;
}

/** The check every Lifecycle call and /status goes through. */
export interface ControlAuth {
  readonly enabled: boolean;
  /** null to go ahead; otherwise the refusal to answer with (already logged). */
  check(authorization: ReadonlyArray<string | Buffer>, what: string, peer: string): Refusal | null;
}

const HOW =
  'send "authorization: Bearer <token>" (gRPC metadata; an HTTP header for /status) with the Pea\'s control token';

/** The check of every Lifecycle call and of /status: the token in --token-file, read on each call. */
export function controlAuth(tokenFile: string | undefined, log: Logger): ControlAuth {
  if (tokenFile === undefined) {
    log.warn(
      'no --token-file: control calls (Cancel, Status, Watch) are unauthenticated; ' +
        'anyone who reaches the gRPC port can cancel the runtime',
    );
    return { enabled: false, check: () => null };
  }
  const limited = rateLimited(log);
  const first = readTokenFile(tokenFile);
  if (first === null)
    log.error(
      { tokenFile },
      'token file unreadable or empty: control calls are refused until it has a token',
    );
  else if (/\s/.test(first))
    log.error(
      { tokenFile },
      'the token has whitespace inside, which no "Bearer <token>" can carry: ' +
        'every control call will be refused; use base64 or hex',
    );
  return {
    enabled: true,
    check(authorization, what, peer) {
      const expected = readTokenFile(tokenFile);
      if (expected === null) {
        limited.error({ what, peer, tokenFile }, 'control call refused: token file unreadable or empty');
        return {
          code: grpc.status.UNAUTHENTICATED,
          details:
            `${what}: the sidecar cannot read its control token right now; ` +
            "retry, and check the Pea's token Secret",
        };
      }
      const problem = mismatch(authorization, expected);
      if (problem === null) return null;
      limited.warn({ what, peer, problem }, 'control call refused');
      return { code: grpc.status.UNAUTHENTICATED, details: `${what}: ${problem}; ${HOW}` };
    },
  };
}

const HOOK_HOW =
  'send "authorization: Bearer <hook token>": the runtime container\'s preStop hook carries it';

/**
 * Who may call /prestop. The kubelet's httpGet hook cannot read a Secret, only send the
 * literal headers of the pod spec, so the hook has its own token (PEA_HOOK_TOKEN, set by the
 * operator in the sidecar's env and in the hook's headers): it can cancel this pod and
 * nothing else, and it is fixed for the pod's life, so rotating the control token's Secret
 * never breaks the hook. Without one, /prestop is open to anyone who reaches the port.
 */
export function hookAuth(token: string | undefined, log: Logger): ControlAuth {
  if (token === undefined) {
    log.warn(
      'no hook token (PEA_HOOK_TOKEN): /prestop is unauthenticated; ' +
        'anyone who reaches the HTTP port can cancel the runtime',
    );
    return { enabled: false, check: () => null };
  }
  const limited = rateLimited(log);
  return {
    enabled: true,
    check(authorization, what, peer) {
      const problem = mismatch(authorization, token);
      if (problem === null) return null;
      limited.warn({ what, peer, problem }, 'hook call refused');
      return { code: grpc.status.UNAUTHENTICATED, details: `${what}: ${problem}; ${HOOK_HOW}` };
    },
  };
}

/**
 * A flood of refused calls must not become a flood of log lines (the container log is the
 * node's disk): up to PER_SECOND lines a second for each message, then one line with how
 * many were left out. Each message has its own budget, so a flood of bad tokens cannot hide
 * that the token file went missing.
 */
/** Why the presented authorization does not carry the expected token, or null when it does. */
function mismatch(authorization: ReadonlyArray<string | Buffer>, expected: string): string | null {
  const presented = presentedToken(authorization);
  // Log why, never what: neither the expected nor the presented value.
  if ('problem' in presented) return presented.problem;
  return tokenMatches(expected, presented.token) ? null : 'token does not match';
}

const PER_SECOND = 5;

type Emit = (obj: object, msg: string) => void;

function rateLimited(log: Logger): { warn: Emit; error: Emit } {
  const windows = new Map<
    string,
    { start: number; logged: number; suppressed: number; flush?: NodeJS.Timeout }
  >();
  const emit = (level: 'warn' | 'error', obj: object, msg: string): void => {
    const now = Date.now();
    let w = windows.get(msg);
    if (!w) windows.set(msg, (w = { start: now, logged: 0, suppressed: 0 }));
    if (now - w.start >= 1000) {
      w.start = now;
      w.logged = 0;
    }
    if (w.logged < PER_SECOND) {
      w.logged++;
      log[level](obj, msg);
      return;
    }
    w.suppressed++;
    const window = w;
    window.flush ??= setTimeout(
      () => {
        log[level]({ suppressed: window.suppressed }, `${msg} (more, not logged one by one)`);
        window.suppressed = 0;
        window.flush = undefined;
      },
      1000 - (now - window.start),
    ).unref();
  };
  return { warn: (obj, msg) => emit('warn', obj, msg), error: (obj, msg) => emit('error', obj, msg) };
}
