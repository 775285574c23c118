#!/usr/bin/env node
// `peapods-operator`: the seed's manager (M) for every Pea. Conventional flags, each with an
// environment-variable twin; metrics on :8080/metrics, probes on :8081; SIGTERM stops taking
// work, finishes in-flight reconciles and releases the leader lease.
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Command, InvalidArgumentError, Option } from 'commander';
import * as k8s from '@kubernetes/client-node';
import { PooledKubeConfig } from '../shared/kubeconfig.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { CancelClient } from './cancel.js';
import { Controller } from './controller.js';
import { EventRecorder } from './events.js';
import { LeaderElector } from './leader.js';
import { createMetrics, startingOverdue, type Metrics } from './metrics.js';
import { loadPolicyTemplate, NetworkPolicies } from './network-policy.js';
import { PeaSetController } from './peaset/controller.js';
import { DEFAULT_POD_OPTIONS } from './pod.js';
import { loadTokenKey } from './token.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number.');
  return n;
}

function bindAddress(v: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new InvalidArgumentError('expected HOST:PORT or :PORT, e.g. :8080.');
  return { host: m[1] || '0.0.0.0', port: Number(m[2]) };
}

/** The operator's flags, parsed (each has an environment-variable twin). */
export interface OperatorFlags {
  kubeconfig?: string;
  namespace: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationSeconds: number;
  metricsBindAddress: { host: string; port: number };
  healthProbeBindAddress: { host: string; port: number };
  maxConcurrentReconciles: number;
  sidecarImage: string;
  sidecarGrpcPort: number;
  sidecarHttpPort: number;
  runAsUser: number;
  tokenKeyFile?: string;
  tokenKeySecret: string;
  networkPolicyFile?: string;
  resyncSeconds: number;
  logLevel: string;
}

/** The `peapods-operator` command line: flags and their defaults, parsing nothing yet. */
export function program(): Command {
  return new Command('peapods-operator')
    .description('Reconciles Pea objects into pods with the Peapods runtime sidecar.')
    .addOption(
      new Option('--kubeconfig <path>', 'kubeconfig; in-cluster config when unset').env('KUBECONFIG'),
    )
    .addOption(
      new Option('--namespace <ns>', 'watch only this namespace (default: all)')
        .default('')
        .env('WATCH_NAMESPACE'),
    )
    .addOption(
      new Option('--leader-elect', 'elect a leader with a Lease, so that only one replica acts')
        .default(false)
        .env('LEADER_ELECT'),
    )
    .addOption(
      new Option('--leader-election-namespace <ns>', 'namespace of the Lease')
        .default('peapods-system')
        .env('POD_NAMESPACE'),
    )
    .addOption(
      new Option('--leader-election-id <name>', 'name of the Lease')
        .default('peapods-operator')
        .env('LEADER_ELECTION_ID'),
    )
    .addOption(
      new Option(
        '--lease-duration-seconds <s>',
        'how long a leader that stopped renewing keeps the Lease; renew every fifth of it',
      )
        .default(15)
        .argParser(positiveInt)
        .env('LEASE_DURATION_SECONDS'),
    )
    .addOption(
      new Option('--metrics-bind-address <addr>', 'where /metrics listens')
        .default(bindAddress(':8080'), ':8080')
        .argParser(bindAddress)
        .env('METRICS_BIND_ADDRESS'),
    )
    .addOption(
      new Option('--health-probe-bind-address <addr>', 'where /healthz and /readyz listen')
        .default(bindAddress(':8081'), ':8081')
        .argParser(bindAddress)
        .env('HEALTH_PROBE_BIND_ADDRESS'),
    )
    .addOption(
      new Option('--max-concurrent-reconciles <n>', 'Peas reconciled at once')
        .default(4)
        .argParser(positiveInt)
        .env('MAX_CONCURRENT_RECONCILES'),
    )
    .addOption(
      new Option('--sidecar-image <image>', 'image with pea-runtime, for the runtime sidecar')
        .default(DEFAULT_POD_OPTIONS.sidecarImage)
        .env('SIDECAR_IMAGE'),
    )
    .addOption(
      new Option('--sidecar-grpc-port <port>', "the sidecar's gRPC port (health and Lifecycle)")
        .default(DEFAULT_POD_OPTIONS.grpcPort)
        .argParser(positiveInt)
        .env('SIDECAR_GRPC_PORT'),
    )
    .addOption(
      new Option('--sidecar-http-port <port>', "the sidecar's HTTP port (preStop hook)")
        .default(DEFAULT_POD_OPTIONS.httpPort)
        .argParser(positiveInt)
        .env('SIDECAR_HTTP_PORT'),
    )
    .addOption(
      new Option(
        '--token-key-file <path>',
        "key the Peas' control tokens are derived from; overrides --token-key-secret",
      ).env('TOKEN_KEY_FILE'),
    )
    .addOption(
      new Option(
        '--token-key-secret <name>',
        'Secret in the operator namespace (--leader-election-namespace) holding that key; created when missing',
      )
        .default('peapods-operator-token-key')
        .env('TOKEN_KEY_SECRET'),
    )
    .addOption(
      new Option(
        '--network-policy-file <path>',
        'a NetworkPolicy (JSON) to apply in every namespace where Peas run, ' +
          'before their first pod there (the chart sets it)',
      ).env('NETWORK_POLICY_FILE'),
    )
    .addOption(
      new Option('--run-as-user <uid>', 'UID of both containers unless the Pea sets one')
        .default(DEFAULT_POD_OPTIONS.runAsUser)
        .argParser(positiveInt)
        .env('RUN_AS_USER'),
    )
    .addOption(
      new Option('--resync-seconds <s>', 'how often every Pea is reconciled even without events')
        .default(300)
        .argParser(positiveInt)
        .env('RESYNC_SECONDS'),
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['trace', 'debug', 'info', 'warn', 'error'])
        .default('info')
        .env('LOG_LEVEL'),
    );
}

function kubeConfig(path: string | undefined): k8s.KubeConfig {
  const kc = new PooledKubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  return kc;
}

function serve(
  addr: { host: string; port: number },
  handler: (path: string) => Promise<[number, string]>,
  log: Logger,
): Server {
  const server = createServer((req, res) => {
    void handler((req.url ?? '/').split('?')[0] as string).then(([code, body]) => {
      res.writeHead(code, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(body);
    });
  });
  server.on('error', (err) => {
    log.error({ err, port: addr.port }, 'cannot listen: choose another address with the bind-address flags');
  });
  server.listen(addr.port, addr.host);
  return server;
}

function countPhases(peas: ReadonlyArray<{ status?: { phase?: string } }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of peas) out[p.status?.phase ?? 'Pending'] = (out[p.status?.phase ?? 'Pending'] ?? 0) + 1;
  return out;
}

async function runOperator(f: OperatorFlags, log: Logger): Promise<void> {
  const kc = kubeConfig(f.kubeconfig);
  // Read before anything starts, so a bad file stops the operator with its reason.
  const policyTemplate =
    f.networkPolicyFile === undefined ? undefined : loadPolicyTemplate(f.networkPolicyFile);
  const tokenKey = await loadTokenKey(
    f.tokenKeyFile,
    { core: kc.makeApiClient(k8s.CoreV1Api), namespace: f.leaderElectionNamespace, name: f.tokenKeySecret },
    log,
  );
  const cancelRpcTimeoutMs = 2000;
  const sets = new PeaSetController({
    kc,
    namespace: f.namespace,
    maxConcurrentReconciles: f.maxConcurrentReconciles,
    resyncMs: f.resyncSeconds * 1000,
    events: new EventRecorder(kc.makeApiClient(k8s.CoreV1Api)),
    cancel: { client: new CancelClient(cancelRpcTimeoutMs), tokenKey, grpcPort: f.sidecarGrpcPort },
    log,
  });
  const c = new Controller({
    kc,
    alsoOnChange: sets.onChange,
    namespace: f.namespace,
    maxConcurrentReconciles: f.maxConcurrentReconciles,
    resyncMs: f.resyncSeconds * 1000,
    cancelRpcTimeoutMs,
    log,
    tokenKey,
    pod: {
      sidecarImage: f.sidecarImage,
      grpcPort: f.sidecarGrpcPort,
      httpPort: f.sidecarHttpPort,
      runAsUser: f.runAsUser,
    },
    networkPolicies:
      policyTemplate && new NetworkPolicies(kc.makeApiClient(k8s.NetworkingV1Api), policyTemplate, log),
  });
  const metrics: Metrics = createMetrics({
    queueDepth: () => c.queue.depth,
    retries: () => c.queue.retries,
    phases: () => countPhases(c.peaList),
    startingOverdue: () => startingOverdue(c.peaList, Date.now()),
  });
  c.metrics = metrics;
  const identity = `${hostname()}-${process.pid}`;
  const elector = f.leaderElect
    ? new LeaderElector({
        kc,
        namespace: f.leaderElectionNamespace,
        name: f.leaderElectionId,
        identity,
        leaseDurationSeconds: f.leaseDurationSeconds,
        renewDeadlineMs: f.leaseDurationSeconds * 667,
        retryPeriodMs: f.leaseDurationSeconds * 200,
        log,
      })
    : undefined;
  const servers = [
    serve(
      f.metricsBindAddress,
      async (p) => {
        if (p !== '/metrics') return [404, 'try /metrics\n'];
        // Only under `node --expose-gc` (the memory benchmark): report live heap, not garbage.
        (globalThis as { gc?: () => void }).gc?.();
        return [200, await metrics.registry.metrics()];
      },
      log,
    ),
    serve(
      f.healthProbeBindAddress,
      async (p) => {
        if (p === '/healthz') return [200, 'ok\n'];
        // Ready to take work once the caches are synced (a standby replica is ready too).
        if (p === '/readyz')
          return c.synced || (elector && !elector.isLeader) ? [200, 'ok\n'] : [503, 'caches not synced\n'];
        return [404, 'try /healthz or /readyz\n'];
      },
      log,
    ),
  ];

  let stopping = false;
  const shutdown = async (why: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'shutting down: finishing in-flight reconciles');
    await Promise.all([c.stop(), sets.stop()]);
    await elector?.release();
    for (const s of servers) s.close();
    log.info('stopped');
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0)).on('SIGINT', () => void shutdown('SIGINT', 0));

  if (elector) {
    log.info({ identity }, 'waiting to become leader');
    await elector.run(() => void shutdown('lost leadership', 1));
  }
  if (stopping) return;
  log.info(
    { namespace: f.namespace || '(all)', maxConcurrentReconciles: f.maxConcurrentReconciles },
    'starting the Pea and PeaSet controllers',
  );
  c.start();
  sets.start(c, metrics);
}

/**
 * V8 tuned for memory, however the operator was started. With V8's defaults the heap pages of
 * a burst of reconciles stay resident after the burst (40 KiB of RSS per cached Pea with
 * 10,000 cached, against 2.7 KiB of live heap); tuned, 5.6 KiB (bench/operator.bench.ts).
 * V8 reads this flag at each collection, so setting it at start takes effect. A command line
 * that names it (the chart's does; --no-optimize-for-size to opt out) is left as it is.
 */
function optimizeForSize(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => a.endsWith('optimize-for-size') || a.endsWith('optimize_for_size'))) return false;
  setFlagsFromString('--optimize-for-size');
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  optimizeForSize();
  const cmd = program();
  cmd.parse(process.argv);
  const flags = cmd.opts<OperatorFlags>();
  const log = createLogger('peapods-operator', flags.logLevel);
  runOperator(flags, log).catch((err) => {
    log.fatal({ err }, 'operator could not start: check --kubeconfig and the cluster connection');
    process.exit(1);
  });
}
