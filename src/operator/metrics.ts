// /metrics with prom-client, the Prometheus client most Node services use. Names follow
// controller-runtime's, so existing dashboards read them.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The operator's Prometheus registry, and the one call the workers make into it. */
export interface Metrics {
  registry: Registry;
  reconciled(result: string, seconds: number): void;
}

/** The operator's metrics under controller-runtime's names; the gauges read `sources` when scraped. */
export function createMetrics(sources: {
  queueDepth: () => number;
  retries: () => number;
  phases: () => Record<string, number>;
}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
  return {
    registry,
    reconciled: (result, seconds) => {
      total.inc({ controller: 'pea', result });
      time.observe({ controller: 'pea' }, seconds);
    },
  };
}
