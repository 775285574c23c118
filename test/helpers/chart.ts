// The chart as `helm template` renders it, for the tests that read what it would install.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './processes.js';

/** The pinned helm (hack/k8s-binaries.sh builds it once). */
export const helm = join(
  execFileSync(join(ROOT, 'hack/k8s-binaries.sh'), ['helm'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim(),
  'helm',
);
/** The chart's directory. */
export const CHART = join(ROOT, 'charts/peapods');
/** The namespace the tests install the release into. */
export const RELEASE_NS = 'peapods-system';

/** One rendered object, as the YAML has it. */
export interface ChartDoc {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
  data?: Record<string, string>;
}

/** The objects `helm template` renders with these `--set` values; throws with helm's message on refusal. */
export function renderChart(...set: string[]): ChartDoc[] {
  const args = ['template', 'peapods', CHART, '--namespace', RELEASE_NS, '--kube-version', '1.34.4'];
  const text = execFileSync(helm, [...args, ...set.flatMap((s) => ['--set', s])], {
    encoding: 'utf8',
    stdio: 'pipe',
  });
  return parseAllDocuments(text)
    .map((d) => d.toJS() as ChartDoc)
    .filter(Boolean);
}
