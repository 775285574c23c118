// The chart and the plain manifests: helm lint and helm template run here, and deploy/ must
// be exactly what its sources render (run `make generate` after changing either).
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers/processes.js';

const helm = join(
  execFileSync(join(ROOT, 'hack/k8s-binaries.sh'), ['helm'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim(),
  'helm',
);
const chart = join(ROOT, 'charts/peapods');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');
const template = (...set: string[]): string =>
  execFileSync(
    helm,
    [
      'template',
      'peapods',
      chart,
      '--namespace',
      'peapods-system',
      '--kube-version',
      '1.34.4',
      ...set.flatMap((s) => ['--set', s]),
    ],
    { encoding: 'utf8' },
  );
const docs = (
  text: string,
): Array<{
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  rules?: Array<{ verbs: string[]; resources: string[] }>;
}> =>
  parseAllDocuments(text)
    .map((d) => d.toJS())
    .filter(Boolean);

describe('charts/peapods', () => {
  it('passes helm lint', () => {
    expect(
      execFileSync(helm, ['lint', chart, '--strict', '--kube-version', '1.34.4'], { encoding: 'utf8' }),
    ).toContain('0 chart(s) failed');
  });

  it('renders exactly deploy/peapods-operator.yaml', () => {
    expect(read('deploy/peapods-operator.yaml')).toBe(
      `# Generated from charts/peapods by \`make generate\`; do not edit.\n${template()}`,
    );
  });

  it('ships the CRDs that src/api generates', () => {
    expect(read('charts/peapods/crds/peas.peapods.io.yaml')).toBe(read('deploy/crd/peas.peapods.io.yaml'));
    expect(read('charts/peapods/crds/peasets.peapods.io.yaml')).toBe(
      read('deploy/crd/peasets.peapods.io.yaml'),
    );
  });

  it('grants no wildcard', () => {
    for (const d of docs(template()).filter((x) => x.rules)) {
      for (const r of d.rules ?? []) expect([...r.verbs, ...r.resources]).not.toContain('*');
    }
  });

  it('turns leader election on with more than one replica', () => {
    const args = (text: string): string[] => {
      const dep = docs(text).find((d) => d.kind === 'Deployment') as unknown as {
        spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
      };
      return dep.spec.template.spec.containers[0]!.args;
    };
    expect(args(template())).not.toContain('--leader-elect');
    expect(args(template('replicaCount=2'))).toContain('--leader-elect');
  });

  it('refuses values that break its schema, naming them', () => {
    expect(() =>
      execFileSync(helm, ['template', 'x', chart, '--set', 'replicaCount=0'], {
        encoding: 'utf8',
        stdio: 'pipe',
      }),
    ).toThrow(/replicaCount/);
  });
});
