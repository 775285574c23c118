// The chart's NetworkPolicies and the operator's container hardening, from `helm template`.
// The policies are evaluated here as a CNI would (allow-lists that add up), port by port:
// the sidecar's gRPC port admits only the operator's pods, its HTTP port (the preStop hook)
// nobody but the node, and every other port of a Pea pod stays open. The Pea policy is the
// one the operator applies in a Pea's namespace: the chart's ConfigMap through
// src/operator/network-policy.ts.
import { describe, expect, it } from '@jest/globals';
import type { V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import type { Pea } from '../../../src/api/v1alpha1/types.js';
import { checkTemplate, policyFor } from '../../../src/operator/network-policy.js';
import { buildPod, LABEL_MANAGED, LABEL_PEA, MANAGER } from '../../../src/operator/pod.js';
import { CHART as chart, helm, renderChart, RELEASE_NS, type ChartDoc } from '../../helpers/chart.js';

type Doc = ChartDoc;
const render = renderChart;
// NetworkPolicy as the YAML spells it (client-node's models rename `from` and `except`).
interface Peer {
  podSelector?: V1LabelSelector;
  namespaceSelector?: V1LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface PolicyPort {
  protocol?: string;
  port?: number;
  endPort?: number;
}
interface NetworkPolicy {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    podSelector?: V1LabelSelector;
    policyTypes?: string[];
    ingress?: Array<{ from?: Peer[]; ports?: PolicyPort[] }>;
  };
}
const POLICY_CONFIGMAP = 'peapods-operator-pea-network-policy';
/** What the operator applies in namespace `ns`, from the chart's ConfigMap, as it reads it. */
const peaPolicies = (docs: Doc[], ns: string): NetworkPolicy[] => {
  const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === POLICY_CONFIGMAP) as
    { data?: Record<string, string> } | undefined;
  const read = (json: string): NetworkPolicy =>
    policyFor(checkTemplate(JSON.parse(json), POLICY_CONFIGMAP), ns) as NetworkPolicy;
  return Object.values(cm?.data ?? {}).map(read);
};
/** Every policy in force where a Pea runs in PEA_NS: the chart's own and the operator's copy. */
const policies = (docs: Doc[]): NetworkPolicy[] => [
  ...(docs.filter((d) => d.kind === 'NetworkPolicy') as NetworkPolicy[]),
  ...peaPolicies(docs, PEA_NS),
];

interface PodSpecLike {
  containers: Array<{
    args: string[];
    securityContext: Record<string, unknown>;
    volumeMounts?: Array<{ name: string; mountPath: string }>;
  }>;
  securityContext: Record<string, unknown>;
  volumes?: Array<{ name: string; emptyDir?: object }>;
}
const deployment = (docs: Doc[]): { labels: Record<string, string>; spec: PodSpecLike } => {
  const d = docs.find((x) => x.kind === 'Deployment') as unknown as {
    spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpecLike } };
  };
  return { labels: d.spec.template.metadata.labels, spec: d.spec.template.spec };
};

/** A label selector as the API server evaluates one (matchLabels and the four operators). */
function matches(sel: V1LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    const ok =
      e.operator === 'Exists'
        ? has
        : e.operator === 'DoesNotExist'
          ? !has
          : e.operator === 'In'
            ? has && (e.values ?? []).includes(labels[e.key] as string)
            : e.operator === 'NotIn'
              ? !has || !(e.values ?? []).includes(labels[e.key] as string)
              : false;
    if (!ok) return false;
  }
  return true;
}

/** IPv4 only: enough for these tests. */
function inCidr(ip: string, cidr: string): boolean {
  const n = (a: string): number => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const [base, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
}

interface Source {
  namespace: string;
  nsLabels: Record<string, string>;
  labels: Record<string, string>;
  ip?: string;
}

function peerAdmits(p: Peer, policyNs: string, src: Source): boolean {
  if (p.ipBlock)
    return (
      src.ip !== undefined &&
      inCidr(src.ip, p.ipBlock.cidr) &&
      !(p.ipBlock.except ?? []).some((c) => inCidr(src.ip as string, c))
    );
  if (!p.namespaceSelector && src.namespace !== policyNs) return false;
  if (p.namespaceSelector && !matches(p.namespaceSelector, src.nsLabels)) return false;
  return matches(p.podSelector, src.labels);
}

/**
 * Whether `src` may connect to port/protocol of a pod with `labels` in `ns`, under all the
 * policies: a pod no Ingress policy selects takes everything; else some rule must allow it.
 */
function admitted(
  all: NetworkPolicy[],
  ns: string,
  labels: Record<string, string>,
  port: number,
  protocol: string,
  src: Source,
): boolean {
  const selecting = all.filter(
    (p) =>
      p.metadata?.namespace === ns &&
      matches(p.spec?.podSelector, labels) &&
      (p.spec?.policyTypes ?? ['Ingress']).includes('Ingress'),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (p.spec?.ingress ?? []).some((rule) => {
      const portOk =
        !rule.ports ||
        rule.ports.some(
          (rp) =>
            (rp.protocol ?? 'TCP') === protocol &&
            (rp.port === undefined || (rp.port <= port && port <= (rp.endPort ?? rp.port))),
        );
      const fromOk = !rule.from || rule.from.some((peer) => peerAdmits(peer, ns, src));
      return portOk && fromOk;
    }),
  );
}

const PEA_NS = 'default';
const nsLabels = (ns: string): Record<string, string> => ({ 'kubernetes.io/metadata.name': ns });
const peaPod = (ns = PEA_NS): V1Pod =>
  buildPod(
    {
      apiVersion: 'peapods.io/v1alpha1',
      kind: 'Pea',
      metadata: { name: 'model', namespace: ns, uid: 'u1' },
      spec: { image: 'example/model:1', pod: { labels: { team: 'ml' } } },
    } as Pea,
    'hook-token',
  );

function sources(docs: Doc[]): Record<string, Source> {
  return {
    operator: { namespace: RELEASE_NS, nsLabels: nsLabels(RELEASE_NS), labels: deployment(docs).labels },
    // Operator-looking labels in another namespace: the namespaceSelector keeps it out.
    impostor: { namespace: 'evil', nsLabels: nsLabels('evil'), labels: deployment(docs).labels },
    neighbour: { namespace: PEA_NS, nsLabels: nsLabels(PEA_NS), labels: { app: 'web' } },
    otherPea: { namespace: PEA_NS, nsLabels: nsLabels(PEA_NS), labels: peaPod().metadata!.labels! },
    node: { namespace: '', nsLabels: {}, labels: {}, ip: '10.0.0.7' },
  };
}

/** Who (by the names of sources()) may reach a Pea pod on this TCP port. */
function whoReachesPea(docs: Doc[], port: number, protocol = 'TCP'): string[] {
  const all = policies(docs);
  return Object.entries(sources(docs))
    .filter(([, src]) => admitted(all, PEA_NS, peaPod().metadata!.labels!, port, protocol, src))
    .map(([n]) => n);
}

const EVERYONE = ['operator', 'impostor', 'neighbour', 'otherPea', 'node'];

describe('NetworkPolicy for Pea pods', () => {
  const docs = render();

  it('is on by default and selects exactly the pods src/operator/pod.ts builds', () => {
    const pea = policies(docs).find((p) => p.metadata?.name === 'peapods-operator-pea-sidecar');
    expect(pea?.metadata?.namespace).toBe(PEA_NS);
    expect(pea?.spec?.podSelector).toEqual({
      matchLabels: { [LABEL_MANAGED]: MANAGER },
      matchExpressions: [{ key: LABEL_PEA, operator: 'Exists' }],
    });
    expect(matches(pea?.spec?.podSelector, peaPod().metadata!.labels!)).toBe(true);
    // The operator's own pod carries managed-by: Helm, so the Pea policy never selects it.
    expect(matches(pea?.spec?.podSelector, deployment(docs).labels)).toBe(false);
    expect(pea?.spec?.policyTypes).toEqual(['Ingress']);
  });

  it("admits the sidecar gRPC port from the operator's pods only", () => {
    expect(whoReachesPea(docs, 50051)).toEqual(['operator']);
  });

  it('admits the sidecar HTTP port (the preStop hook) from no pod at all', () => {
    // The kubelet calls it from the node, which most CNIs never filter (see nodeCIDRs).
    expect(whoReachesPea(docs, 50052)).toEqual([]);
  });

  it('leaves every other port of the runtime open to everyone, TCP and UDP', () => {
    for (const port of [1, 80, 8080, 50050, 50053, 50061, 65535])
      expect([port, whoReachesPea(docs, port)]).toEqual([port, EVERYONE]);
    for (const port of [53, 50051, 50052])
      expect([port, whoReachesPea(docs, port, 'UDP')]).toEqual([port, EVERYONE]);
  });

  it.each([
    ['at the bottom and the top of the range', 1, 65535],
    ['adjacent', 9000, 9001],
    ['apart, in either order', 9100, 9000],
    ['one port apart', 9000, 9002],
  ])('keeps the same shape with the sidecar ports %s', (_what, grpc, http) => {
    const d = render(`sidecar.grpcPort=${grpc}`, `sidecar.httpPort=${http}`);
    // The operator is told the same port it is admitted on.
    expect(deployment(d).spec.containers[0]!.args).toContain(`--sidecar-grpc-port=${grpc}`);
    const probe = new Set(
      [1, 2, grpc - 1, grpc, grpc + 1, http - 1, http, http + 1, 50051, 65534, 65535].filter(
        (p) => p >= 1 && p <= 65535,
      ),
    );
    for (const port of probe) {
      const want = port === grpc ? ['operator'] : port === http ? [] : EVERYONE;
      expect([port, whoReachesPea(d, port)]).toEqual([port, want]);
    }
  });

  it('refuses the same port for gRPC and HTTP, saying which values', () => {
    expect(() => render('sidecar.grpcPort=9000', 'sidecar.httpPort=9000')).toThrow(
      /sidecar.grpcPort and sidecar.httpPort must differ/,
    );
  });

  it('lets the nodes in where nodeCIDRs says the CNI filters them', () => {
    const d = render('networkPolicy.nodeCIDRs={10.0.0.0/16}');
    expect(whoReachesPea(d, 50051)).toEqual(['operator', 'node']);
    expect(whoReachesPea(d, 50052)).toEqual(['node']);
  });

  it('is rendered once, without a namespace, into a ConfigMap the operator reads and applies where Peas run', () => {
    expect(docs.filter((d) => d.kind === 'NetworkPolicy').map((p) => p.metadata.name)).toEqual([
      'peapods-operator',
    ]);
    const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === POLICY_CONFIGMAP);
    expect(cm?.metadata.namespace).toBe(RELEASE_NS);
    const { spec } = deployment(docs);
    expect(spec.containers[0]!.args).toContain('--network-policy-file=/etc/peapods/pea-network-policy.json');
    const mount = spec.containers[0]!.volumeMounts?.find((m) => m.mountPath === '/etc/peapods');
    const volume = spec.volumes?.find((v) => v.name === mount?.name);
    expect(volume).toEqual({ name: 'pea-network-policy', configMap: { name: POLICY_CONFIGMAP } });
    for (const ns of ['default', 'ml', 'team-b']) {
      expect(peaPolicies(docs, ns).map((p) => p.metadata?.namespace)).toEqual([ns]);
    }
  });

  it("is left out with networkPolicy.enabled=false, and so are the operator's flag and permission for it", () => {
    const off = render('networkPolicy.enabled=false');
    expect(policies(off)).toEqual([]);
    expect(deployment(off).spec.containers[0]!.args.join(' ')).not.toContain('--network-policy-file');
    expect(JSON.stringify(off.filter((d) => d.kind === 'ClusterRole'))).not.toContain('networkpolicies');
  });

  it('rejects values that are not what the policies need, naming them', () => {
    expect(() => render('networkPolicy.nodeCIDRs={10.0.0.0}')).toThrow(/nodeCIDRs/);
    // Gone: the operator covers every namespace where Peas run.
    expect(() => render('networkPolicy.peaNamespaces={ml}')).toThrow(/peaNamespaces/);
    expect(() => render('networkPolicy.enable=true')).toThrow(/enable/);
  });

  it('passes helm lint with every option set', () => {
    const out = execFileSync(
      helm,
      [
        'lint',
        chart,
        '--strict',
        '--kube-version',
        '1.34.4',
        '--set',
        'networkPolicy.nodeCIDRs={10.0.0.0/16}',
        '--set-json',
        'networkPolicy.metricsFrom=[{"namespaceSelector":' +
          '{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]',
      ],
      { encoding: 'utf8' },
    );
    expect(out).toContain('0 chart(s) failed');
  });
});

describe('NetworkPolicy for the operator', () => {
  const who = (d: Doc[], port: number): string[] => {
    const all = policies(d);
    const srcs: Record<string, Source> = {
      ...sources(d),
      prometheus: {
        namespace: 'monitoring',
        nsLabels: nsLabels('monitoring'),
        labels: { app: 'prometheus' },
      },
    };
    return Object.entries(srcs)
      .filter(([, s]) => admitted(all, RELEASE_NS, deployment(d).labels, port, 'TCP', s))
      .map(([n]) => n);
  };

  it('admits /metrics from anyone by default, and nothing else from any pod', () => {
    const d = render();
    expect(who(d, 8080)).toEqual([...EVERYONE, 'prometheus']);
    for (const port of [8081, 50051, 22]) expect([port, who(d, port)]).toEqual([port, []]);
  });

  it('admits /metrics from metricsFrom only when it is set, and the probes from nodeCIDRs', () => {
    const d = parseAllDocuments(
      execFileSync(
        helm,
        [
          'template',
          'peapods',
          chart,
          '--namespace',
          RELEASE_NS,
          '--kube-version',
          '1.34.4',
          '--set',
          'networkPolicy.nodeCIDRs={10.0.0.0/16}',
          '--set-json',
          'networkPolicy.metricsFrom=[{"namespaceSelector":' +
            '{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]',
        ],
        { encoding: 'utf8' },
      ),
    )
      .map((x) => x.toJS() as Doc)
      .filter(Boolean);
    expect(who(d, 8080)).toEqual(['prometheus']);
    expect(who(d, 8081)).toEqual(['node']);
  });
});

describe("the operator's container", () => {
  const { spec } = deployment(render());
  const container = spec.containers[0]!;

  it("runs non-root under the restricted Pod Security Standard's rules", () => {
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(spec.securityContext.runAsUser).not.toBe(0);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
  });

  it("has a read-only root filesystem, with an emptyDir for /tmp (Node's compile cache)", () => {
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(spec.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
  });
});
