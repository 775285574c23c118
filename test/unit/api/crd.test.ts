import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as loadYaml } from 'yaml';
import { CRD_FILE, crdYaml } from '../../../src/api/v1alpha1/crd.js';
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
