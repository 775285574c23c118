// The Pea CRD, derived from the API's one source (types.ts): its schema, descriptions,
// defaults and CEL rules come from PeaSchema; only what a CRD has beyond a schema is here:
// the names and the columns of `kubectl get peas`. `node dist/src/api/v1alpha1/crd.js` writes
// deploy/crd/peas.peapods.io.yaml; a unit test fails when the committed file drifts.
import { customResourceDefinition, type Json } from '../openapi.js';
import { GROUP, KIND, PeaSchema, PLURAL, VERSION } from './types.js';

/** The Pea's CustomResourceDefinition, as `make generate` writes it. */
export function peaCrd(): Json {
  return customResourceDefinition({
    group: GROUP,
    version: VERSION,
    kind: KIND,
    plural: PLURAL,
    singular: 'pea',
    shortNames: ['pea'],
    categories: ['peapods'],
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
      { name: 'Pod', type: 'string', jsonPath: '.status.podName' },
      { name: 'Restarts', type: 'integer', jsonPath: '.status.restartCount', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    schema: PeaSchema,
  });
}
