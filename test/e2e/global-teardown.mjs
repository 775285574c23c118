// Deletes the suite's namespace, then uninstalls the release (Peas carry no finalizer, so the
// order no longer matters). PEAPODS_E2E_KEEP=1 leaves both for a look around.
import { helm, kubectl, NAMESPACE, OPERATOR_NAMESPACE, RELEASE } from './global-setup.mjs';

export default function globalTeardown() {
  if (process.env.PEAPODS_E2E_KEEP === '1') return;
  kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--timeout=120s']);
  helm(['uninstall', RELEASE, '--namespace', OPERATOR_NAMESPACE, '--wait', '--timeout', '2m']);
}
