// Once per e2e run: install the operator with Helm, exactly as the README tells users to, and
// start the recorder: a pod that owns the host directory the test runtimes write their trace
// to (hostPath directories are created root-owned; the runtimes run as UID 65532).
// Plain JavaScript: jest loads global set-up files without its module mapping, so this file
// cannot import test/e2e/kube.ts; the names below are the ones kube.ts exports.
import { execFileSync } from 'node:child_process';

export const NAMESPACE = 'peapods-e2e';
export const OPERATOR_NAMESPACE = 'peapods-system';
export const RELEASE = 'peapods';
const IMAGE = process.env.PEAPODS_IMAGE ?? 'peapods/peapods:dev';

export function tool(bin, args, input) {
  if (!process.env.KUBECONFIG)
    throw new Error('the e2e suite needs KUBECONFIG: run it through `make e2e`, which brings a cluster up');
  try {
    return execFileSync(bin, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${bin} ${args.join(' ')} failed: ${String(e.stderr ?? e.message).trim()}`);
  }
}
export const kubectl = (args, input) => tool(process.env.KUBECTL ?? 'kubectl', args, input);
export const helm = (args) => tool(process.env.HELM ?? 'helm', args);

const recorder = {
  apiVersion: 'v1',
  kind: 'Pod',
  // The label kube.ts's WITH_RECORDER puts the suite's Peas next to (same node, same trace dir).
  metadata: { name: 'recorder', labels: { 'peapods.io/e2e': 'recorder' } },
  spec: {
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: 'recorder',
        image: IMAGE,
        imagePullPolicy: 'IfNotPresent',
        command: [
          'node',
          '-e',
          `const fs=require('fs');fs.chmodSync('/events',0o1777);
        for (const f of fs.readdirSync('/events')) fs.rmSync('/events/'+f);
        process.on('SIGTERM',()=>process.exit(0));setInterval(()=>{},1e9)`,
        ],
        // Root only here, to make the host directory writable for the runtimes' UID.
        securityContext: { runAsUser: 0, runAsNonRoot: false },
        volumeMounts: [{ name: 'events', mountPath: '/events' }],
      },
    ],
    volumes: [{ name: 'events', hostPath: { path: '/var/lib/peapods-e2e', type: 'DirectoryOrCreate' } }],
  },
};

export default function globalSetup() {
  const at = IMAGE.lastIndexOf(':');
  helm([
    'upgrade',
    '--install',
    RELEASE,
    'charts/peapods',
    '--namespace',
    OPERATOR_NAMESPACE,
    '--create-namespace',
    '--set',
    `image.repository=${IMAGE.slice(0, at)}`,
    '--set',
    `image.tag=${IMAGE.slice(at + 1)}`,
    '--wait',
    '--timeout',
    '3m',
  ]);
  // A tag rebuilt locally keeps its name, so an upgrade that changes nothing else would
  // leave the previous build's operator running: restart it on what was just built.
  kubectl(['rollout', 'restart', '-n', OPERATOR_NAMESPACE, 'deployment/peapods-operator']);
  kubectl(['rollout', 'status', '-n', OPERATOR_NAMESPACE, 'deployment/peapods-operator', '--timeout=120s']);
  kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }),
  );
  kubectl(['apply', '-n', NAMESPACE, '-f', '-'], JSON.stringify(recorder));
  kubectl(['wait', '-n', NAMESPACE, '--for=condition=Ready', 'pod/recorder', '--timeout=120s']);
}
