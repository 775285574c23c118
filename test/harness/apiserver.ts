// A real etcd + kube-apiserver for tests, the way controller-runtime's envtest does it: no
// controller-manager, scheduler or kubelet, so nothing runs pods; tests that need a pod's
// status write it themselves, playing the kubelet. Binaries: $KUBEBUILDER_ASSETS, else
// hack/k8s-binaries.sh builds them once (cached in ~/.cache/peapods).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { CRD_FILE, PEASET_CRD_FILE } from '../../src/api/v1alpha1/crd.js';
import { PooledKubeConfig } from '../../src/shared/kubeconfig.js';
import { ROOT, freePort } from '../helpers/processes.js';

export const OPERATOR_NAMESPACE = 'peapods-system';
export const OPERATOR_SA = 'peapods-operator';
export const OPERATOR_MANIFEST = 'deploy/peapods-operator.yaml';

export interface ApiServer {
  url: string;
  /** Cluster admin (system:masters): for test set-up and for playing the kubelet. */
  admin: k8s.KubeConfig;
  /** The operator's identity: only what deploy/peapods-operator.yaml grants it. */
  operator: k8s.KubeConfig;
  /** A kubeconfig file for the operator's identity, for running it as a process. */
  operatorKubeconfigFile: string;
  /** A kubeconfig file for the admin, for kubectl and kube-controller-manager. */
  adminKubeconfigFile: string;
  /**
   * Stops kube-apiserver and starts it again on the same port and etcd, as an upgrade or a
   * crash would: every open watch breaks and requests are refused until it is back.
   * `whileDown` runs in between.
   */
  restart(whileDown?: () => Promise<unknown>): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  return execFileSync(join(ROOT, 'hack/k8s-binaries.sh'), ['test'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

function kubeConfig(url: string, user: string, token: string): k8s.KubeConfig {
  // Pooled like the operator's, so the benchmark's bare client is not slowed by new TLS
  // connections per request (see src/shared/kubeconfig.ts).
  const kc = new PooledKubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: url, skipTLSVerify: true }],
    users: [{ name: user, token }],
    contexts: [{ name: 'test', cluster: 'test', user }],
    currentContext: 'test',
  });
  return kc;
}

function probe(url: string, token?: string): Promise<number> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? request : httpRequest)(
      {
        hostname: u.hostname,
        port: u.port,
        path: u.pathname,
        rejectUnauthorized: false,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        timeout: 1000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitFor(
  what: string,
  proc: ChildProcess,
  logFile: string,
  ok: () => Promise<boolean>,
  ms = 60000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(
        `${what} did not become ready: see ${logFile}\n${readFileSync(logFile, 'utf8').slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startLogged(bin: string, args: string[], logFile: string): ChildProcess {
  // Appended to, so a restarted apiserver's log follows the first one's.
  const out = openSync(logFile, 'a');
  // Its own process group, so stop() takes any children along.
  return spawn(bin, args, { stdio: ['ignore', out, out], detached: true });
}

async function stopGroup(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  try {
    process.kill(-(proc.pid as number), 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-(proc.pid as number), 'SIGKILL');
    } catch {
      // gone
    }
  }, 5000);
  await gone;
  clearTimeout(timer);
}

export async function startApiServer(): Promise<ApiServer> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'peapods-apiserver-'));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcd = startLogged(
    join(bin, 'etcd'),
    [
      '--data-dir',
      join(dir, 'etcd'),
      '--listen-client-urls',
      `http://127.0.0.1:${etcdPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${etcdPort}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-cluster',
      `default=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync',
      '--log-level',
      'warn',
    ],
    join(dir, 'etcd.log'),
  );
  await waitFor(
    'etcd',
    etcd,
    join(dir, 'etcd.log'),
    async () => (await probe(`http://127.0.0.1:${etcdPort}/health`)) === 200,
  );

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }));
  const adminToken = 'admin-token';
  const operatorToken = 'operator-token';
  const operatorUser = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SA}`;
  writeFileSync(
    join(dir, 'tokens.csv'),
    [
      `${adminToken},admin,uid-admin,"system:masters"`,
      `${operatorToken},${operatorUser},uid-operator,` +
        `"system:serviceaccounts,system:serviceaccounts:${OPERATOR_NAMESPACE},system:authenticated"`,
    ].join('\n'),
  );

  const apiserverArgs = [
    '--etcd-servers',
    `http://127.0.0.1:${etcdPort}`,
    '--cert-dir',
    join(dir, 'certs'),
    '--secure-port',
    String(apiPort),
    '--bind-address',
    '127.0.0.1',
    '--service-cluster-ip-range',
    '10.0.0.0/24',
    '--allow-privileged=true',
    '--authorization-mode',
    'RBAC',
    '--token-auth-file',
    join(dir, 'tokens.csv'),
    '--service-account-key-file',
    join(dir, 'sa.key'),
    '--service-account-signing-key-file',
    join(dir, 'sa.key'),
    '--service-account-issuer',
    'https://peapods.test',
    '--disable-admission-plugins',
    'ServiceAccount',
    '--enable-priority-and-fairness=false',
    '--profiling=false',
    '--v=1',
  ];
  let apiserver = startLogged(join(bin, 'kube-apiserver'), apiserverArgs, join(dir, 'apiserver.log'));
  const url = `https://127.0.0.1:${apiPort}`;
  const apiserverReady = (): Promise<void> =>
    waitFor(
      'kube-apiserver',
      apiserver,
      join(dir, 'apiserver.log'),
      async () => (await probe(`${url}/readyz`, adminToken)) === 200,
    );
  const restart = async (whileDown?: () => Promise<unknown>): Promise<void> => {
    await stopGroup(apiserver);
    await whileDown?.();
    apiserver = startLogged(join(bin, 'kube-apiserver'), apiserverArgs, join(dir, 'apiserver.log'));
    await apiserverReady();
  };
  const stop = async (): Promise<void> => {
    await stopGroup(apiserver);
    await stopGroup(etcd);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await apiserverReady();
    const admin = kubeConfig(url, 'admin', adminToken);
    await installCrd(admin);
    await installRbac(admin);
    const operator = kubeConfig(url, operatorUser, operatorToken);
    const operatorKubeconfigFile = join(dir, 'operator.kubeconfig');
    writeFileSync(operatorKubeconfigFile, operator.exportConfig());
    const adminKubeconfigFile = join(dir, 'admin.kubeconfig');
    writeFileSync(adminKubeconfigFile, admin.exportConfig());
    return { url, admin, operator, operatorKubeconfigFile, adminKubeconfigFile, restart, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function installCrd(admin: k8s.KubeConfig): Promise<void> {
  await Promise.all([CRD_FILE, PEASET_CRD_FILE].map((file) => installOneCrd(admin, file)));
}

async function installOneCrd(admin: k8s.KubeConfig, file: string): Promise<void> {
  // Sent as is, like `kubectl apply`: client-node's typed models would drop keys whose wire
  // names differ from their property names (x-kubernetes-validations, default).
  const crd = parseYaml(readFileSync(join(ROOT, file), 'utf8')) as k8s.V1CustomResourceDefinition;
  await postRaw(admin, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  const api = admin.makeApiClient(k8s.ApiextensionsV1Api);
  const deadline = Date.now() + 30000;
  for (;;) {
    const got = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
    if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`the CRD in ${file} was not Established within 30s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function postRaw(kc: k8s.KubeConfig, path: string, body: object): Promise<void> {
  return sendRaw(kc, 'POST', path, body, 'application/json');
}

/**
 * A raw request with the kubeconfig's token: CRDs go as they are, since client-node's typed
 * models would drop keys whose wire names differ (x-kubernetes-validations, default).
 */
export function sendRaw(
  kc: k8s.KubeConfig,
  method: string,
  path: string,
  body: object,
  contentType: string,
): Promise<void> {
  const url = new URL(path, kc.getCurrentCluster()!.server);
  const token = kc.getCurrentUser()?.token;
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        rejectUnauthorized: false,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': contentType,
          'content-length': Buffer.byteLength(data),
        },
      },
      (res) => {
        let out = '';
        res.on('data', (c: Buffer) => (out += c.toString()));
        res.on('end', () =>
          (res.statusCode ?? 500) < 300
            ? resolve()
            : reject(new Error(`${method} ${path}: HTTP ${res.statusCode}: ${out.slice(0, 1000)}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Applies the RBAC of deploy/peapods-operator.yaml: the operator runs with exactly the permissions it ships. */
async function installRbac(admin: k8s.KubeConfig): Promise<void> {
  const client = k8s.KubernetesObjectApi.makeApiClient(admin);
  await admin
    .makeApiClient(k8s.CoreV1Api)
    .createNamespace({ body: { metadata: { name: OPERATOR_NAMESPACE } } });
  const rbacKinds = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
  for (const obj of k8s.loadAllYaml(
    readFileSync(join(ROOT, OPERATOR_MANIFEST), 'utf8'),
  ) as k8s.KubernetesObject[]) {
    if (obj && rbacKinds.includes(obj.kind as string)) await client.create(obj);
  }
}
