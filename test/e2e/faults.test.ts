// Faults inside a Pea pod and on its node, with real processes and a real kubelet: the Pea's
// status says what happened, and nothing hangs in Cancelling. Processes are found and killed
// from inside the pod (kubectl exec; the containers share a PID namespace and a UID), and the
// kubelet is restarted by $PEAPODS_RESTART_KUBELET (hack/cluster/target.sh sets it for the
// local cluster and for kind), so these lines run unchanged on both.
import { describe, expect, test, beforeAll } from '@jest/globals';
import { execSync } from 'node:child_process';
import { apply, condition, kubectl, NAMESPACE, pea, peaStatus, waitFor, waitForPhase } from './kube.js';

const MINUTE = 60_000;

/**
 * SIGKILLs, inside the Pea's pod, the process whose command line contains `match`, from the
 * other container: a container whose main process dies takes its exec sessions with it.
 */
async function killInPod(podName: string, match: string, from: 'runtime' | 'pea-runtime'): Promise<void> {
  const script = `const fs=require('fs');const want=${JSON.stringify(match)};
    for (const p of fs.readdirSync('/proc').filter((d)=>/^\\d+$/.test(d))) {
      let c=''; try { c=fs.readFileSync('/proc/'+p+'/cmdline','utf8').split('\\0').join(' '); } catch {}
      if (c.includes(want) && Number(p)!==process.pid) {
        process.kill(Number(p),'SIGKILL'); console.log('killed '+p+': '+c); process.exit(0);
      }
    }
    console.error('no process matches '+want); process.exit(1);`;
  await kubectl(['exec', '-n', NAMESPACE, podName, '-c', from, '--', 'node', '-e', script]);
}

const podJson = async (name: string) =>
  JSON.parse(await kubectl(['get', 'pod', '-n', NAMESPACE, name, '-o', 'json'])) as {
    status: {
      initContainerStatuses?: { name: string; restartCount: number; ready: boolean }[];
      containerStatuses?: { name: string; restartCount: number; state: { running?: object } }[];
    };
  };

type NodeList = {
  items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
};
type PodList = {
  items: {
    metadata: { namespace: string; name: string; deletionTimestamp?: string };
    spec: { nodeName?: string };
  }[];
};

/**
 * After kubelet restarts: true once every node is Ready and its kubelet's own pod list (GET
 * /pods through the API server's node proxy) holds every running pod the API server places on
 * that node. Until then `kubectl exec` into such a pod answers "pod does not exist".
 */
async function kubeletsServing(): Promise<true | undefined> {
  const nodes = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as NodeList;
  const running = JSON.parse(
    await kubectl(['get', 'pods', '-A', '--field-selector', 'status.phase=Running', '-o', 'json']),
  ) as PodList;
  for (const node of nodes.items) {
    if (node.status.conditions.find((c) => c.type === 'Ready')?.status !== 'True') return undefined;
    const raw = await kubectl(['get', '--raw', `/api/v1/nodes/${node.metadata.name}/proxy/pods`]);
    const known = new Set(
      (JSON.parse(raw) as PodList).items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
    );
    const onNode = running.items.filter(
      (p) => p.spec.nodeName === node.metadata.name && !p.metadata.deletionTimestamp,
    );
    if (!onNode.every((p) => known.has(`${p.metadata.namespace}/${p.metadata.name}`))) return undefined;
  }
  return true;
}

describe('faults in and under a Pea', () => {
  beforeAll(async () => {
    for (const name of ['sidecar-killed', 'runtime-killed', 'kubelet-ready', 'kubelet-cancel'])
      await apply(pea(name, { example: 'sleeper' }));
    for (const name of ['sidecar-killed', 'runtime-killed', 'kubelet-ready', 'kubelet-cancel']) {
      await kubectl(['wait', '-n', NAMESPACE, '--for=condition=Ready', `pea/${name}`, '--timeout=180s']);
    }
  });

  test('sidecar killed in a Ready pod: restarted, it finds the runtime again; the Pea tells the gap', async () => {
    const podName = (await peaStatus('sidecar-killed'))?.podName as string;
    await killInPod(podName, 'main.js sidecar', 'runtime');
    const notReady = await waitFor(
      'the Ready condition to go False',
      async () => {
        const c = condition(await peaStatus('sidecar-killed'), 'Ready');
        return c?.status === 'False' ? c : undefined;
      },
      MINUTE,
      200,
    );
    expect(notReady.reason).toBe('NotReady');
    await waitFor(
      'the Pea Ready again',
      async () =>
        condition(await peaStatus('sidecar-killed'), 'Ready')?.status === 'True' ? true : undefined,
      2 * MINUTE,
    );
    const pod = await podJson(podName);
    expect(pod.status.initContainerStatuses?.find((c) => c.name === 'pea-runtime')?.restartCount).toBe(1);
    expect(pod.status.containerStatuses?.find((c) => c.name === 'runtime')?.restartCount).toBe(0);
    // The restarted sidecar still controls the runtime: a cancel ends it cleanly.
    await kubectl([
      'patch',
      '-n',
      NAMESPACE,
      'pea',
      'sidecar-killed',
      '--type=merge',
      '-p',
      '{"spec":{"cancel":true}}',
    ]);
    expect((await waitForPhase('sidecar-killed', ['Succeeded', 'Failed'], MINUTE)).reason).toBe('Cancelled');
  });

  test('the runtime killed: RunForeverError with its exit code, and the pod ends', async () => {
    const podName = (await peaStatus('runtime-killed'))?.podName as string;
    await killInPod(podName, 'examples/sleeper.js', 'pea-runtime');
    const s = await waitForPhase('runtime-killed', ['Succeeded', 'Failed'], MINUTE);
    expect(s.reason).toBe('RunForeverError');
    expect(s.exitCode).toBe(137);
  });

  test('kubelet restarted under a Ready and a cancelling Pea: Ready stays, the cancel finishes', async () => {
    const readyPod = (await peaStatus('kubelet-ready'))?.podName as string;
    await kubectl([
      'patch',
      '-n',
      NAMESPACE,
      'pea',
      'kubelet-cancel',
      '--type=merge',
      '-p',
      '{"spec":{"cancel":true}}',
    ]);
    const restart = process.env.PEAPODS_RESTART_KUBELET;
    if (!restart) throw new Error('PEAPODS_RESTART_KUBELET is not set: run the suite through make e2e');
    execSync(restart, { stdio: 'inherit' });
    const s = await waitForPhase('kubelet-cancel', ['Succeeded', 'Failed'], 2 * MINUTE);
    expect(s.reason).toBe('Cancelled');
    // Every kubelet restarted (kind: all three). Ready may never have dropped, so wait until
    // each one serves its pods again: the tests after this one exec into them.
    await waitFor(
      'every node Ready, its kubelet listing its running pods again',
      kubeletsServing,
      2 * MINUTE,
    );
    expect((await peaStatus('kubelet-ready'))?.phase).toBe('Ready');
    await waitFor(
      'pea/kubelet-ready Ready=True after the restart',
      async () =>
        condition(await peaStatus('kubelet-ready'), 'Ready')?.status === 'True' ? true : undefined,
      MINUTE,
    );
    const pod = await podJson(readyPod);
    expect(pod.status.containerStatuses?.find((c) => c.name === 'runtime')?.restartCount).toBe(0);
  });
});
