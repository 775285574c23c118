// The one moment the random kills of operator-kill.chaos.ts and leader-failover.chaos.ts keep
// finding, made deterministic: the operator has sent the Cancel RPC, the runtime stopped,
// and the operator dies before its write of status.cancelTime reaches the API server. The
// kubelet reports the runtime's exit (143, SIGTERM) before a new operator looks: the Pea
// must still end Cancelled, through Cancelling, not RunForeverError (or Completed for 0).
// The operator reaches the API server through a proxy that holds back what it sends.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { chaosSuite } from '../harness/suites.js';
import {
  bringUp,
  collectGarbage,
  Kubelet,
  operatorKubeconfigVia,
  requestCancel,
  sigkill,
  sleep,
  startOperatorProcess,
  type LifecycleEnv,
} from '../harness/chaos.js';
import { freePort, until, type Proc } from '../helpers/processes.js';

const NAMESPACE = 'chaos-cancel-record';

let operator: Proc | undefined;

const s = chaosSuite(NAMESPACE, { proxy: true, stop: () => operator?.child.kill('SIGKILL') });

describe('an operator that dies right after the Cancel RPC', () => {
  it.each([
    ['spec.cancel', 'cancel'],
    ['delete', 'delete'],
  ] as const)('leaves a Pea cancelled by %s Cancelled, through Cancelling', async (_how, ending) => {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const kubeconfig = operatorKubeconfigVia(s.api, `https://127.0.0.1:${s.proxy.port}`);
    const flags = ['--sidecar-grpc-port', String(grpcPort), '--sidecar-http-port', String(httpPort)];
    const env: LifecycleEnv = {
      custom: s.api.admin.makeApiClient(k8s.CustomObjectsApi),
      namespace: NAMESPACE,
      recorder: s.recorder,
      kubelet: new Kubelet(s.api.admin, NAMESPACE),
      grpcPort,
      httpPort,
      stepMs: 30_000,
    };
    operator = startOperatorProcess(kubeconfig, NAMESPACE, flags);
    const name = `victim-${ending}`;
    const ip = ending === 'cancel' ? '127.15.0.1' : '127.15.0.2';
    const pea = await bringUp(env, name, ip);
    try {
      // The operator still sees the cancel (watch events flow in) but none of its writes land.
      s.proxy.hold();
      await requestCancel(env, name, ending);
      const sent = (): boolean =>
        operator!.logLines().some((l) => l.msg === 'Cancel RPC sent' && l.pea === `${NAMESPACE}/${name}`);
      // Either the Cancel goes out at once, or (an operator that records it first) not before its write lands.
      await until('the Cancel RPC, or its write held', async () => sent() || s.proxy.held > 0, 10_000);
      await sleep(500);
      await sigkill(operator);
      s.proxy.cut();
      // The kubelet reports the runtime's end whether or not an operator is running.
      const exit = await Promise.race([pea.sidecar.proc.exited, sleep(2000).then(() => undefined)]);
      if (exit !== undefined) await env.kubelet.terminated(pea.pod, ip, 143);

      operator = startOperatorProcess(kubeconfig, NAMESPACE, flags);
      if (exit === undefined) {
        // The Cancel was not sent before the kill: the new operator must send it.
        await pea.sidecar.proc.exited;
        await env.kubelet.terminated(pea.pod, ip, 143);
      }
      const last = await s.recorder.when(
        `${name} finished`,
        () =>
          ['Succeeded', 'Failed'].includes(s.recorder.pea(name)?.status?.phase ?? '') && s.recorder.pea(name),
        30_000,
      );
      if (ending === 'delete') {
        await collectGarbage(env, name, pea.pod);
        await s.recorder.when(`${name} gone`, () => s.recorder.peas.get(name)?.gone, 30_000);
      }
      expect(last?.status).toMatchObject({ phase: 'Succeeded', reason: 'Cancelled' });
      expect(s.recorder.peas.get(name)?.phases).toContain('Cancelling');
    } finally {
      await pea.sidecar.close();
      await sigkill(operator);
    }
  });
});
