// What the cluster benchmarks create: a Pea, and a bare pod that runs the same runtime as the
// Pea's runtime container (same image, command, user and restricted security context), so
// that the difference between the two is what Peapods adds.
import type * as k8s from '@kubernetes/client-node';
import { GROUP, VERSION } from '../src/api/v1alpha1/types.js';

/** A Pea named `name` with this spec. */
export function peaManifest(name: string, spec: Record<string, unknown>): object {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'Pea', metadata: { name }, spec };
}

/** A bare pod with one container `runtime`: the fields of `container` over the Pea runtime's user and security. */
export function barePod(
  name: string,
  container: Omit<k8s.V1Container, 'name'>,
  pod: Partial<k8s.V1PodSpec> = {},
  labels: Record<string, string> = {},
): k8s.V1Pod {
  return {
    metadata: { name, labels },
    spec: {
      restartPolicy: 'Never',
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      ...pod,
      containers: [
        {
          name: 'runtime',
          imagePullPolicy: 'IfNotPresent',
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          ...container,
        },
      ],
    },
  };
}
