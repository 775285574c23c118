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

describe('faults in and under a Pea', () => {
  beforeAll(async () => {
    for (const name of ['sidecar-killed', 'runtime-killed', 'kubelet-ready', 'kubelet-cancel'])
      await apply(pea(name, { example: 'sleeper' }));
    for (const name of ['sidecar-killed', 'runtime-killed', 'kubelet-ready', 'kubelet-cancel']) {
      await kubectl(['wait', '-n', NAMESPACE, '--for=condition=Ready', `pea/${name}`, '--timeout=180s']);
    }
  });

  test('the sidecar killed inside a Ready pod: the kubelet restarts it, it finds the runtime again, and the Pea says what happened meanwhile', async () => {
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

  test('the kubelet restarted under a Ready Pea and under a cancelling one: Ready stays Ready, the cancel finishes', async () => {
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
    await waitFor(
      'the node Ready again',
      async () => {
        const out = await kubectl([
          'get',
          'nodes',
          '-o',
          'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}',
        ]);
        return out.trim() === 'True' ? true : undefined;
      },
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
