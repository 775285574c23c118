// Writes the Pea CRD: `node dist/src/api/v1alpha1/crd.js > deploy/crd/peas.peapods.io.yaml`
// (`make generate`). The unit tests compare the committed file with crdYaml().
import { dumpYaml } from '@kubernetes/client-node';
import { peaCrd } from './schema.js';

export const CRD_FILE = 'deploy/crd/peas.peapods.io.yaml';

export function crdYaml(): string {
  return `# Generated from src/api/v1alpha1/schema.ts by \`make generate\`; do not edit.\n${dumpYaml(peaCrd(), { lineWidth: -1, noRefs: true })}`;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(crdYaml());
