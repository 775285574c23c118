import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as loadYaml } from 'yaml';
import { CRD_FILE, crdYaml, PEASET_CRD_FILE, peaSetCrdYaml } from '../../../src/api/v1alpha1/crd.js';
import { peaSetCrd } from '../../../src/api/v1alpha1/peaset.js';
import { peaCrd } from '../../../src/api/v1alpha1/schema.js';
import { ROOT } from '../../helpers/processes.js';

type Node = { type?: string; description?: string; properties?: Record<string, Node>; items?: Node };

/** Every field below spec and status, with its path. */
function fields(node: Node, path: string): Array<[string, Node]> {
  const own: Array<[string, Node]> = [[path, node]];
  const props = Object.entries(node.properties ?? {}).flatMap(([k, v]) => fields(v, `${path}.${k}`));
  const items = node.items?.properties ? fields(node.items, `${path}[]`).slice(1) : [];
  return [...own, ...props, ...items];
}

describe('the Pea CRD', () => {
  it(`${CRD_FILE} is what src/api/v1alpha1 generates (run \`make generate\` after changing the API)`, () => {
    expect(readFileSync(join(ROOT, CRD_FILE), 'utf8')).toBe(crdYaml());
  });

  it('describes every field, so `kubectl explain` helps', () => {
    const schema = (peaCrd() as { spec: { versions: Array<{ schema: { openAPIV3Schema: Node } }> } }).spec
      .versions[0]!.schema.openAPIV3Schema;
    const root = schema.properties!;
    const undocumented = [...fields(root.spec!, 'spec'), ...fields(root.status!, 'status')]
      .filter(([, n]) => !n.description)
      .map(([p]) => p);
    expect(undocumented).toEqual([]);
  });

  it('uses Kubernetes words in `kubectl explain`, no internal names (seed, M, S)', () => {
    const descriptions = [...crdYaml().matchAll(/description: (.*)/g)].map((m) => m[1]!);
    expect(descriptions.length).toBeGreaterThan(50);
    const jargon = (d: string): boolean => /\bseed\b/i.test(d) || /(^|[\s(])[MS]([\s),.;:]|$)/.test(d);
    expect(descriptions.filter(jargon)).toEqual([]);
  });

  it('every sample in deploy/samples parses as a Pea of this API', () => {
    for (const name of ['sleeper', 'slow-start']) {
      const pea = loadYaml(readFileSync(join(ROOT, 'deploy/samples', `${name}.yaml`), 'utf8'));
      expect(pea).toMatchObject({
        apiVersion: 'peapods.io/v1alpha1',
        kind: 'Pea',
        spec: { image: expect.any(String) },
      });
    }
  });
});

describe('the PeaSet CRD', () => {
  const schema = (
    peaSetCrd() as { spec: { versions: Array<{ schema: { openAPIV3Schema: Node }; subresources: object }> } }
  ).spec.versions[0]!;

  it(`${PEASET_CRD_FILE} is what src/api/v1alpha1 generates (run \`make generate\` after changing the API)`, () => {
    expect(readFileSync(join(ROOT, PEASET_CRD_FILE), 'utf8')).toBe(peaSetCrdYaml());
  });

  it('describes every field, so `kubectl explain` helps', () => {
    const root = schema.schema.openAPIV3Schema.properties!;
    const undocumented = [...fields(root.spec!, 'spec'), ...fields(root.status!, 'status')]
      .filter(([, n]) => !n.description)
      .map(([p]) => p);
    expect(undocumented).toEqual([]);
  });

  it('has /scale with the pod selector, for kubectl scale and a HorizontalPodAutoscaler', () => {
    expect(schema.subresources).toEqual({
      status: {},
      scale: {
        specReplicasPath: '.spec.replicas',
        statusReplicasPath: '.status.replicas',
        labelSelectorPath: '.status.selector',
      },
    });
  });

  it("keeps the Pea's rules in the template but those that refuse a change (the template changes to roll)", () => {
    const text = peaSetCrdYaml();
    expect(text).toContain('spec.ready: set only one of grpc, http, tcp or none');
    expect(text).not.toContain('oldSelf == self');
    expect(text.match(/self == oldSelf/g)).toBeNull();
  });

  it('deploy/samples/peaset.yaml parses as a PeaSet of this API', () => {
    const set = loadYaml(readFileSync(join(ROOT, 'deploy/samples/peaset.yaml'), 'utf8'));
    expect(set).toMatchObject({
      apiVersion: 'peapods.io/v1alpha1',
      kind: 'PeaSet',
      spec: { template: { spec: { image: expect.any(String) } } },
    });
  });
});
