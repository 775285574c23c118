// An informer that does not die. client-node's informer stops for good on any watch error
// other than 410 Gone, and its start() resolves even when the first list failed; this one
// restarts with backoff, tracks "synced" itself and relists periodically (watches can stall
// silently). Handlers only hand keys on.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.js';

/** A cache of one kind of object, kept by list and watch, that restarts itself after any failure. */
export interface ResilientInformer<T extends k8s.KubernetesObject> {
  list(): readonly T[];
  get(namespace: string, name: string): T | undefined;
  readonly synced: boolean;
  start(): void;
  stop(): void;
}

/** One page of a list: `limit` objects from where `_continue` says. */
export interface ListPage {
  limit: number;
  _continue?: string;
}

/** What to list and watch, and whom to tell about each change. */
export interface InformerOptions<T extends k8s.KubernetesObject> {
  name: string;
  kc: k8s.KubeConfig;
  path: string;
  list: (page: ListPage) => Promise<k8s.KubernetesListObject<T>>;
  labelSelector?: string;
  onChange: (obj: T) => void;
  /**
   * What to cache of each object, as it comes from the list or the watch, before the cache
   * and the handlers see it: controller-runtime's TransformFunc. Return a new, smaller
   * object (dropping managedFields and unused parts is most of an operator's memory).
   */
  trim?: (obj: T) => T;
  resyncMs: number;
  log: Logger;
  /** Objects per list page; LIST_PAGE_SIZE unless a test wants many pages from few objects. */
  pageSize?: number;
}

/** Objects per list page: enough to keep round trips few, small enough to bound the peak. */
export const LIST_PAGE_SIZE = 500;

/**
 * The whole list, a page at a time, each page trimmed before the next is fetched. One
 * unpaginated list of 10,000 pods is ~50 MB of JSON parsed at once: V8 grows its heap for
 * that peak and keeps it, which is most of an operator's resident memory.
 */
export function pagedList<T extends k8s.KubernetesObject>(
  list: InformerOptions<T>['list'],
  trim?: (obj: T) => T,
  pageSize = LIST_PAGE_SIZE,
): k8s.ListPromise<T> {
  return async () => {
    const items: T[] = [];
    let page: k8s.KubernetesListObject<T>;
    let cont: string | undefined;
    do {
      page = await list({ limit: pageSize, ...(cont ? { _continue: cont } : {}) });
      for (const item of page.items) items.push(trim ? trim(item) : item);
      // Typed lists (pods) name it `_continue`; custom objects come as plain JSON: `continue`.
      const meta = page.metadata as (k8s.V1ListMeta & { continue?: string }) | undefined;
      cont = meta?._continue || meta?.continue || undefined;
    } while (cont);
    // Every page carries the snapshot's resourceVersion: the watch resumes from there.
    return { ...page, items };
  };
}

/** An informer that lists and watches until stop(), restarting with backoff after any error. */
export function resilientInformer<T extends k8s.KubernetesObject>(
  o: InformerOptions<T>,
): ResilientInformer<T> {
  let informer: k8s.Informer<T> & k8s.ObjectCache<T>;
  let synced = false;
  let stopped = false;
  let failures = 0;
  let resync: NodeJS.Timeout | undefined;

  const safe =
    (f: (obj: T) => void) =>
    (obj: T): void => {
      try {
        f(obj);
      } catch (err) {
        o.log.error({ informer: o.name, err }, 'informer handler failed');
      }
    };

  const run = (): void => {
    const list = pagedList(o.list, o.trim, o.pageSize);
    const watch = new TrimmingWatch(o.kc, o.trim ?? ((obj: T) => obj));
    informer = new k8s.ListWatch(o.path, watch, list, false, o.labelSelector);
    for (const ev of [k8s.ADD, k8s.UPDATE, k8s.DELETE] as const) informer.on(ev, safe(o.onChange));
    informer.on(k8s.ERROR, (err: unknown) => {
      errors++;
      if (stopped) return;
      synced = false;
      const delay = Math.min(200 * 2 ** failures++, 30_000);
      o.log.warn({ informer: o.name, err, retryInMs: delay }, 'list or watch failed; restarting it');
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

/**
 * A watch whose objects are trimmed before client-node's cache stores them (it has no
 * transform of its own, and keeps the very object the watch parsed).
 */
class TrimmingWatch<T extends k8s.KubernetesObject> extends k8s.Watch {
  constructor(
    kc: k8s.KubeConfig,
    private readonly trim: (obj: T) => T,
  ) {
    super(kc);
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      queryParams,
      (phase, obj, watchObj) =>
        callback(phase, phase === 'ERROR' || phase === 'BOOKMARK' ? obj : this.trim(obj as T), watchObj),
      done,
    );
  }
}
