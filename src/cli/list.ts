// `kubectl pea list`: `kubectl get peas` plus how long each Pea has been in its phase and why.
import { ConditionType, type Pea } from '../api/v1alpha1/types.js';
import { duration, table } from './format.js';

/** When the Pea entered its current phase, from the times its status records. */
export function phaseSince(pea: Pea): string | undefined {
  const s = pea.status ?? {};
  switch (s.phase) {
    case 'Starting':
      return s.startTime;
    case 'Ready':
      return s.readyTime;
    case 'Cancelling':
      return s.cancelTime;
    case 'Succeeded':
    case 'Failed':
      return s.finishTime;
    default:
      return s.lastTermination?.finishTime ?? pea.metadata.creationTimestamp?.toString();
  }
}

/** The reason shown: how it ended, else what its Ready condition says (what the pod waits on). */
export function listReason(pea: Pea): string {
  const s = pea.status ?? {};
  if (s.phase === 'Succeeded' || s.phase === 'Failed') return s.reason ?? '';
  return s.conditions?.find((c) => c.type === ConditionType.Ready)?.reason ?? s.reason ?? '';
}

/** The lines `kubectl pea list` prints; with `allNamespaces`, a NAMESPACE column first. */
export function renderList(peas: Pea[], now: Date, allNamespaces: boolean): string[] {
  if (peas.length === 0) return [];
  const ago = (t: string | undefined) => (t ? duration(now.getTime() - new Date(t).getTime()) : '');
  const rows = [...peas]
    .sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace}/${b.metadata.name}`,
      ),
    )
    .map((p) => [
      ...(allNamespaces ? [p.metadata.namespace ?? ''] : []),
      p.metadata.name ?? '',
      p.status?.phase ?? 'Pending',
      ago(phaseSince(p)),
      listReason(p),
      String(p.status?.restartCount ?? 0),
      ago(p.metadata.creationTimestamp?.toString()),
    ]);
  const head = [
    ...(allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    'PHASE',
    'IN PHASE',
    'REASON',
    'RESTARTS',
    'AGE',
  ];
  const max = [...(allNamespaces ? [20] : []), allNamespaces ? 26 : 40, 10, 8, 26, 8, 6];
  return table([head, ...rows], max);
}
