import { describe, expect, it } from '@jest/globals';
import type { V1Container } from '@kubernetes/client-node';
import type { Pea } from '../../../src/api/v1alpha1/types.js';
import { buildPod, DEFAULT_POD_OPTIONS, podName, readyFlag } from '../../../src/operator/pod.js';

const pea = (spec: Partial<Pea['spec']> = {}): Pea => ({
  apiVersion: 'peapods.io/v1alpha1',
  kind: 'Pea',
  metadata: { name: 'model', namespace: 'ml', uid: 'uid-1', generation: 1 },
  spec: { image: 'example/model:1', ...spec },
});

const HOOK = 'hook-token-of-this-pod';
const sidecarOf = (p: ReturnType<typeof buildPod>): V1Container => p.spec!.initContainers![0]!;
const runtimeOf = (p: ReturnType<typeof buildPod>): V1Container => p.spec!.containers[0]!;
const flag = (c: V1Container, name: string): string | undefined => c.args?.[c.args.indexOf(name) + 1];

describe('readyFlag', () => {
  it.each([
    [undefined, 'none'],
    [{ none: {} }, 'none'],
    [{ grpc: { port: 9000 } }, 'grpc://127.0.0.1:9000/'],
    [{ grpc: { port: 9000, service: 'model.v1.Infer' } }, 'grpc://127.0.0.1:9000/model.v1.Infer'],
    [{ http: { port: 8080, path: '/ready' } }, 'http://127.0.0.1:8080/ready'],
    [{ http: { port: 8080 } }, 'http://127.0.0.1:8080/'],
    [{ tcp: { port: 6379 } }, 'tcp://127.0.0.1:6379'],
  ])('%j → %s', (ready, expected) => expect(readyFlag(ready)).toBe(expected));
});

describe('buildPod', () => {
  it('runs the sidecar as a native sidecar that gates the runtime and carries readiness', () => {
    const s = sidecarOf(buildPod(pea(), HOOK));
    expect(s.restartPolicy).toBe('Always');
    expect(s.startupProbe).toBeUndefined();
    // The gate waits, in a shell and not in Node, on the file the sidecar is told to write.
    const gate = s.lifecycle?.postStart?.exec?.command ?? [];
    expect(gate.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(gate[2]).toContain(`[ -e '${flag(s, '--started-file')}' ]`);
    expect(gate.join(' ')).not.toContain('node');
    expect(s.readinessProbe).toMatchObject({ grpc: { port: 50051 }, periodSeconds: 1 });
    expect(s.image).toBe(DEFAULT_POD_OPTIONS.sidecarImage);
  });

  it.each([
    [{}, { '--cancel-timeout': '10', '--teardown-timeout': '30', grace: 30 }],
    [
      { timeouts: { cancelSeconds: 3, teardownSeconds: 7 } },
      { '--cancel-timeout': '3', '--teardown-timeout': '7', grace: 7 },
    ],
  ])('timeouts %j become sidecar flags and the grace period', (spec, want) => {
    const p = buildPod(pea(spec), HOOK);
    expect(flag(sidecarOf(p), '--cancel-timeout')).toBe(want['--cancel-timeout']);
    expect(flag(sidecarOf(p), '--teardown-timeout')).toBe(want['--teardown-timeout']);
    expect(p.spec!.terminationGracePeriodSeconds).toBe(want.grace);
  });

  it('lets the sidecar find and signal the runtime, and tears down on any deletion', () => {
    const p = buildPod(pea({ env: [{ name: 'A', value: '1' }] }), HOOK);
    expect(p.spec!.shareProcessNamespace).toBe(true);
    expect(p.spec!.restartPolicy).toBe('Never');
    expect(flag(sidecarOf(p), '--attach-env')).toBe('PEAPODS_RUNTIME=1');
    expect(runtimeOf(p).env).toEqual([
      { name: 'A', value: '1' },
      { name: 'PEAPODS_RUNTIME', value: '1' },
    ]);
    expect(runtimeOf(p).lifecycle?.preStop?.httpGet).toEqual({
      path: '/prestop',
      port: 50052,
      httpHeaders: [{ name: 'Authorization', value: `Bearer ${HOOK}` }],
    });
  });

  it('gives the sidecar the same hook token its preStop hook sends, and the runtime none', () => {
    const p = buildPod(pea({ env: [{ name: 'A', value: '1' }] }), HOOK);
    expect(sidecarOf(p).env).toContainEqual({ name: 'PEA_HOOK_TOKEN', value: HOOK });
    expect(sidecarOf(p).args?.join(' ')).not.toContain(HOOK); // a flag would show in `ps` on the node
    expect(JSON.stringify(runtimeOf(p).env)).not.toContain(HOOK);
    expect(JSON.stringify(runtimeOf(p).lifecycle)).toContain(`Bearer ${HOOK}`);
  });

  it('is owned by the Pea and selectable by its name', () => {
    const p = buildPod(pea({ pod: { labels: { team: 'ml', 'peapods.io/pea': 'spoofed' } } }), HOOK);
    expect(p.metadata!.name).toBe('model-pea');
    expect(p.metadata!.labels).toEqual({
      team: 'ml',
      'peapods.io/pea': 'model',
      'app.kubernetes.io/managed-by': 'peapods',
    });
    expect(p.metadata!.ownerReferences).toEqual([
      {
        apiVersion: 'peapods.io/v1alpha1',
        kind: 'Pea',
        name: 'model',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it.each([
    ['model', undefined, 'model-pea'],
    ['model', 1, 'model-pea-1'],
    ['model', 12, 'model-pea-12'],
    ['a'.repeat(63), 0, `${'a'.repeat(63)}`],
    ['a'.repeat(63), 3, `${'a'.repeat(61)}-3`],
    ['b'.repeat(58) + '-x', 7, `${'b'.repeat(58)}-x-7`],
  ])(
    'names the pod of Pea %s after restart %s: %s (new name per run, at most 63 characters)',
    (name, restartCount, want) => {
      const p = pea();
      p.metadata.name = name;
      if (restartCount !== undefined) p.status = { restartCount };
      expect(podName(p)).toBe(want);
      expect(buildPod(p, HOOK).metadata!.name).toBe(want);
    },
  );

  it('is secure by default: non-root, one shared UID, no escalation, no capabilities, RuntimeDefault seccomp', () => {
    const p = buildPod(pea(), HOOK);
    expect(p.spec!.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const c of [sidecarOf(p), runtimeOf(p)]) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        runAsNonRoot: true,
      });
      expect(c.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    }
    expect(sidecarOf(p).securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(p.spec!.automountServiceAccountToken).toBe(false);
  });

  it('passes the runtime container and pod settings through', () => {
    const p = buildPod(
      pea({
        command: ['serve'],
        args: ['--model', 'x'],
        ports: [{ containerPort: 8000 }],
        resources: { limits: { cpu: '2' } },
        pod: {
          nodeSelector: { gpu: 'yes' },
          tolerations: [{ key: 'gpu', operator: 'Exists' }],
          serviceAccountName: 'model-sa',
          volumes: [{ name: 'data', emptyDir: {} }],
        },
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
      }),
      HOOK,
    );
    expect(runtimeOf(p)).toMatchObject({
      image: 'example/model:1',
      command: ['serve'],
      args: ['--model', 'x'],
      ports: [{ containerPort: 8000 }],
      resources: { limits: { cpu: '2' } },
      volumeMounts: [{ name: 'data', mountPath: '/data' }],
    });
    expect(p.spec).toMatchObject({
      nodeSelector: { gpu: 'yes' },
      tolerations: [{ key: 'gpu', operator: 'Exists' }],
      serviceAccountName: 'model-sa',
    });
    expect(p.spec!.volumes!.map((v) => v.name)).toEqual(['pea-runtime-tmp', 'pea-runtime-token', 'data']);
  });

  it("mounts the Pea's control token into the sidecar only, and points --token-file at it", () => {
    const p = buildPod(pea({ volumeMounts: [{ name: 'data', mountPath: '/data' }] }), HOOK);
    expect(p.spec!.volumes).toContainEqual({
      name: 'pea-runtime-token',
      secret: { secretName: 'model-pea-token' },
    });
    expect(sidecarOf(p).volumeMounts).toContainEqual({
      name: 'pea-runtime-token',
      mountPath: '/var/run/peapods',
      readOnly: true,
    });
    expect(flag(sidecarOf(p), '--token-file')).toBe('/var/run/peapods/token');
    expect(runtimeOf(p).volumeMounts?.map((m) => m.name)).toEqual(['data']);
  });
});

describe('buildPod for a PeaSet member (the preStop hold)', () => {
  const withHold = (value: string): Pea => {
    const p = pea({ timeouts: { readySeconds: 300, cancelSeconds: 10, teardownSeconds: 30 } });
    p.metadata.annotations = { 'peapods.io/prestop-hold-seconds': value };
    return p;
  };

  it('holds preStop for the drain and lengthens the grace period by as much', () => {
    const pod = buildPod(withHold('40'), HOOK);
    expect(flag(sidecarOf(pod), '--prestop-hold-seconds')).toBe('40');
    expect(pod.spec?.terminationGracePeriodSeconds).toBe(70);
  });

  it.each(['', 'x', '-3', '1.5', '99999'])('ignores a hold of %j', (value) => {
    const pod = buildPod(withHold(value), HOOK);
    expect(sidecarOf(pod).args).not.toContain('--prestop-hold-seconds');
    expect(pod.spec?.terminationGracePeriodSeconds).toBe(30);
  });
});
