// kube-controller-manager beside the test API server, running only the controllers a test
// names (say the EndpointSlice and HorizontalPodAutoscaler controllers for PeaSets): real
// Kubernetes code reacting to the operator's writes, where envtest has none. Its binary is
// built once by hack/k8s-binaries.sh (`make test-binaries` builds it with the others).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort, ROOT, start, tempDir, until, type Proc } from '../helpers/processes.js';
import type { ApiServer } from './apiserver.js';

/** Starts kube-controller-manager with these controllers; killed with the test file's other processes. */
export async function startControllerManager(api: ApiServer, controllers: string[]): Promise<Proc> {
  const bin = execFileSync(join(ROOT, 'hack/k8s-binaries.sh'), ['kube-controller-manager'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const port = await freePort();
  const proc = start(join(bin, 'kube-controller-manager'), [
    '--kubeconfig',
    api.adminKubeconfigFile,
    '--controllers',
    controllers.join(','),
    '--leader-elect=false',
    '--use-service-account-credentials=false',
    '--bind-address',
    '127.0.0.1',
    '--secure-port',
    String(port),
    '--cert-dir',
    tempDir(),
    // The HPA controller looks every second, not every 15 s, so a test waits little.
    '--horizontal-pod-autoscaler-sync-period',
    '1s',
    '--v=1',
  ]);
  await until(
    'kube-controller-manager started',
    () => proc.output().includes('Started controller') || proc.child.exitCode !== null,
    60_000,
  );
  if (proc.child.exitCode !== null)
    throw new Error(`kube-controller-manager exited:\n${proc.output().slice(-3000)}`);
  return proc;
}
