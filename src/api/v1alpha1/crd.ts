// Writes the CRDs: `node dist/src/api/v1alpha1/crd.js > deploy/crd/peas.peapods.io.yaml` and
// `node dist/src/api/v1alpha1/crd.js peaset > deploy/crd/peasets.peapods.io.yaml`
// (`make generate`). The unit tests compare the committed files with crdYaml().
// The `yaml` package, not client-node's dumpYaml: that one goes through the typed models and
// silently drops keys whose wire names differ (x-kubernetes-validations, default).
import { stringify } from 'yaml';
import type { Json } from '../openapi.js';
import { peaSetCrd } from './peaset.js';
import { peaCrd } from './schema.js';

/** Where the generated Pea CRD is committed. */
export const CRD_FILE = 'deploy/crd/peas.peapods.io.yaml';
/** Where the generated PeaSet CRD is committed. */
export const PEASET_CRD_FILE = 'deploy/crd/peasets.peapods.io.yaml';

/** A CRD file's text: a do-not-edit header, then the CRD (the Pea's unless given) as YAML. */
export function crdYaml(crd: Json = peaCrd(), source = 'types.ts'): string {
  const header = `# Generated from src/api/v1alpha1/${source} by \`make generate\`; do not edit.\n`;
  return header + stringify(crd, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** The PeaSet CRD file's text. */
export const peaSetCrdYaml = (): string => crdYaml(peaSetCrd(), 'peaset.ts');

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(process.argv[2] === 'peaset' ? peaSetCrdYaml() : crdYaml());
}
