// /metrics with prom-client, the Prometheus client most Node services use. The controller's
// own follow controller-runtime's names, so existing dashboards read them; the Peas'
// lifecycle is under peapods_*, in base units (seconds) and with bounded labels only: a
// phase or a reason word, never a Pea's name.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DEFAULT_TIMEOUTS, type Pea, type PeaStatus } from '../api/v1alpha1/types.js';

/** The operator's Prometheus registry, and the calls the workers and the reconciler make into it. */
export interface Metrics {
  registry: Registry;
  reconciled(result: string, seconds: number): void;
  /** A status write that the API server took: counts what changed from `before` to `after`. */
  transition(before: PeaStatus, after: PeaStatus): void;
}

/** Where the scrape-time gauges read from. */
export interface MetricSources {
  queueDepth: () => number;
  retries: () => number;
  phases: () => Record<string, number>;
  /** Peas Starting for longer than their spec.timeouts.readySeconds (startingOverdue). */
  startingOverdue: () => number;
}

/** Buckets for lifecycle steps: from sub-second to the default ready timeout and past it. */
const LIFECYCLE_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

/** The operator's metrics; the gauges read `sources` when scraped. */
export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client's gauges named like counters, which promtool check metrics refuses; each is
  // the sum of the same family without _total (by type), which stays.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(name);
  const total = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Reconciles by result.',
    labelNames: ['controller', 'result'],
    registers: [registry],
  });
  const time = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Time per reconcile.',
    labelNames: ['controller'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'workqueue_depth',
    help: 'Keys waiting in the work queue.',
    labelNames: ['name'],
    registers: [registry],
    collect() {
      this.set({ name: 'pea' }, sources.queueDepth());
    },
  });
  new Gauge({
    name: 'workqueue_retries',
    help: 'Rate-limited re-adds so far.',
    labelNames: ['name'],
    registers: [registry],
    collect() {
      this.set({ name: 'pea' }, sources.retries());
    },
  });
  new Gauge({
    name: 'peapods_peas',
    help: 'Peas by phase, as the operator last saw them.',
    labelNames: ['phase'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [phase, n] of Object.entries(sources.phases())) this.set({ phase }, n);
    },
  });
  const errors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Reconciles that failed (retried with back-off, or for good).',
    labelNames: ['controller'],
    registers: [registry],
  });
  new Gauge({
    name: 'peapods_peas_starting_overdue',
    help: 'Peas Starting for longer than their spec.timeouts.readySeconds (the operator fails them then).',
    registers: [registry],
    collect() {
      this.set(sources.startingOverdue());
    },
  });
  const transition = lifecycleMetrics(registry);
  return {
    registry,
    reconciled: (result, seconds) => {
      total.inc({ controller: 'pea', result });
      time.observe({ controller: 'pea' }, seconds);
      if (result === 'error') errors.inc({ controller: 'pea' });
    },
    transition,
  };
}

/** The Peas' lifecycle metrics, fed by each status write that went through. */
function lifecycleMetrics(registry: Registry): Metrics['transition'] {
  const histogram = (name: string, help: string) =>
    new Histogram({ name, help, buckets: LIFECYCLE_BUCKETS, registers: [registry] });
  const toReady = histogram(
    'peapods_pea_time_to_ready_seconds',
    "From the pod's creation to the Pea's first Ready, per run.",
  );
  const cancelToExit = histogram(
    'peapods_pea_cancel_to_exit_seconds',
    'From the Cancel sent to the runtime container exited.',
  );
  const teardown = histogram(
    'peapods_pea_teardown_seconds',
    "From the runtime's exit to the sidecar's, its teardown done.",
  );
  const ends = new Counter({
    name: 'peapods_pea_ends_total',
    help: 'Peas that ended, by phase (Succeeded, Failed) and reason (Cancelled, ReadyTimeout, ...).',
    labelNames: ['phase', 'reason'],
    registers: [registry],
  });
  const restarts = new Counter({
    name: 'peapods_pea_restarts_total',
    help: 'New pods started after a run ended (spec.restartPolicy Always).',
    registers: [registry],
  });
  return (before, after) => {
    if (!before.readyTime && after.readyTime && after.startTime)
      observe(toReady, after.startTime, after.readyTime);
    const ended = (s: PeaStatus) => s.phase === 'Succeeded' || s.phase === 'Failed';
    if (!ended(before) && ended(after)) {
      ends.inc({ phase: after.phase as string, reason: reasonLabel(after.reason) });
      const exited = after.timeline?.runtimeExitedTime;
      if (after.cancelTime && exited) observe(cancelToExit, after.cancelTime, exited);
      if (exited && after.timeline?.teardownTime) observe(teardown, exited, after.timeline.teardownTime);
    }
    const more = (after.restartCount ?? 0) - (before.restartCount ?? 0);
    if (more > 0) restarts.inc(more);
  };
}

/**
 * Observes `to - from`. The kubelet's times have whole seconds and the operator's have
 * milliseconds, so a step within the same second can come out up to 1 s below zero: that
 * is 0; anything less is a clock that went wrong, not a duration.
 */
function observe(h: Histogram, from: string, to: string): void {
  const seconds = (new Date(to).getTime() - new Date(from).getTime()) / 1000;
  if (Number.isFinite(seconds) && seconds > -1) h.observe(Math.max(seconds, 0));
}

/**
 * A reason as a label value: the CamelCase words of Peapods, the scheduler and the kubelet
 * are a bounded set; anything else (a hand-edited status) counts as Other.
 */
export function reasonLabel(reason: string | undefined): string {
  return reason && /^[A-Z][A-Za-z]{1,39}$/.test(reason) ? reason : 'Other';
}

/** How many of `peas` are Starting past their spec.timeouts.readySeconds (0 = forever) at `now`. */
export function startingOverdue(peas: readonly Pea[], now: number): number {
  let n = 0;
  for (const p of peas) {
    if (p.status?.phase !== 'Starting' || !p.status.startTime) continue;
    // Read with care: a malformed Pea (no spec) must not break the scrape.
    const set = (p.spec as Partial<Pea['spec']> | undefined)?.timeouts?.readySeconds;
    const readySeconds = typeof set === 'number' ? set : DEFAULT_TIMEOUTS.readySeconds;
    if (readySeconds > 0 && now - new Date(p.status.startTime).getTime() > readySeconds * 1000) n++;
  }
  return n;
}
