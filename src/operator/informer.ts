// An informer that does not die. client-node's informer stops for good on any watch error
// other than 410 Gone, and its start() resolves even when the first list failed; this one
// restarts with backoff, tracks "synced" itself and relists periodically (watches can stall
// silently). Handlers only hand keys on.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.js';

export interface ResilientInformer<T extends k8s.KubernetesObject> {
  list(): readonly T[];
  get(namespace: string, name: string): T | undefined;
  readonly synced: boolean;
  start(): void;
  stop(): void;
}

export interface InformerOptions<T extends k8s.KubernetesObject> {
  name: string;
  kc: k8s.KubeConfig;
  path: string;
  list: k8s.ListPromise<T>;
  labelSelector?: string;
  onChange: (obj: T) => void;
  /**
   * Trims an object in place as it enters the cache (client-node has no cache transform;
   * handlers receive the cached object itself). Like controller-runtime's TransformFunc:
   * dropping managedFields and unused parts is most of an operator's memory.
   */
  trim?: (obj: T) => void;
  resyncMs: number;
  log: Logger;
}

export function resilientInformer<T extends k8s.KubernetesObject>(o: InformerOptions<T>): ResilientInformer<T> {
  let informer: k8s.Informer<T> & k8s.ObjectCache<T>;
  let synced = false;
  let stopped = false;
  let failures = 0;
  let resync: NodeJS.Timeout | undefined;

  const safe = (f: (obj: T) => void) => (obj: T): void => {
    try {
      f(obj);
    } catch (err) {
      o.log.error({ informer: o.name, err: String(err) }, 'informer handler failed');
    }
  };

  const run = (): void => {
    informer = k8s.makeInformer(o.kc, o.path, o.list, o.labelSelector);
    for (const ev of [k8s.ADD, k8s.UPDATE] as const) {
      informer.on(ev, safe((obj) => {
        o.trim?.(obj);
        o.onChange(obj);
      }));
    }
    informer.on(k8s.DELETE, safe(o.onChange));
    informer.on(k8s.ERROR, (err: unknown) => {
      errors++;
      if (stopped) return;
      synced = false;
      const delay = Math.min(200 * 2 ** failures++, 30_000);
      o.log.warn({ informer: o.name, err: String(err), retryInMs: delay }, 'list or watch failed; restarting it');
      setTimeout(() => {
        if (!stopped) begin();
      }, delay).unref();
    });
    begin();
  };

  // start() resolves once the list is in and the watch is open, or after an error: only
  // the former counts as synced.
  let errors = 0;
  const begin = (): void => {
    const before = errors;
    void informer.start().then(
      () => {
        if (errors === before && !stopped) {
          synced = true;
          failures = 0;
        }
      },
      () => undefined,
    );
  };

  return {
    list: () => informer?.list() ?? [],
    get: (namespace, name) => informer?.get(name, namespace),
    get synced() {
      return synced;
    },
    start: () => {
      run();
      resync = setInterval(() => informer.list().forEach(safe(o.onChange)), o.resyncMs);
      resync.unref();
    },
    stop: () => {
      stopped = true;
      clearInterval(resync);
      void informer?.stop();
    },
  };
}
