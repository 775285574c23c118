// Writes the Pea CRD: `node dist/src/api/v1alpha1/crd.js > deploy/crd/peas.peapods.io.yaml`
// (`make generate`). The unit tests compare the committed file with crdYaml().
// The `yaml` package, not client-node's dumpYaml: that one goes through the typed models and
// silently drops keys whose wire names differ (x-kubernetes-validations, default).
import { stringify } from 'yaml';
import { peaCrd } from './schema.js';

export const CRD_FILE = 'deploy/crd/peas.peapods.io.yaml';

export function crdYaml(): string {
  return `# Generated from src/api/v1alpha1/schema.ts by \`make generate\`; do not edit.\n${stringify(peaCrd(), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(crdYaml());
