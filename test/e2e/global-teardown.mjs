// Deletes the suite's namespace while the operator still runs (its Peas carry the operator's
// finalizer), then uninstalls the release. PEAPODS_E2E_KEEP=1 leaves both for a look around.
import { helm, kubectl, NAMESPACE, OPERATOR_NAMESPACE, RELEASE } from './global-setup.mjs';

export default function globalTeardown() {
  if (process.env.PEAPODS_E2E_KEEP === '1') return;
  kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--timeout=120s']);
  helm(['uninstall', RELEASE, '--namespace', OPERATOR_NAMESPACE, '--wait', '--timeout', '2m']);
}
