// Writes the Pea CRD: `node dist/src/api/v1alpha1/crd.js > deploy/crd/peas.peapods.io.yaml`
// (`make generate`). The unit tests compare the committed file with crdYaml().
// The `yaml` package, not client-node's dumpYaml: that one goes through the typed models and
// silently drops keys whose wire names differ (x-kubernetes-validations, default).
import { stringify } from 'yaml';
import { peaCrd } from './schema.js';

/** Where the generated CRD is committed. */
export const CRD_FILE = 'deploy/crd/peas.peapods.io.yaml';

/** The CRD file's text: a do-not-edit header, then the CRD as YAML. */
export function crdYaml(): string {
  const header = '# Generated from src/api/v1alpha1/types.ts by `make generate`; do not edit.\n';
  return header + stringify(peaCrd(), { lineWidth: 0, aliasDuplicateObjects: false });
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(crdYaml());
