// Events for `kubectl describe pea`, sent apart from the writes that matter: a few at a time
// and a flood cut short, as client-go's recorder does, so that Events never crowd out the
// status and pod writes a reconcile waits on.
import type * as k8s from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/v1alpha1/types.js';
import type { Logger } from '../shared/logger.js';
import type { PeaEvent } from './decide.js';
import type { JsonCoreApi } from './json-api.js';

/** What an Event is about: a Pea, a PeaSet. */
type Involved = { metadata: k8s.V1ObjectMeta };

const MAX_EVENTS_IN_FLIGHT = 2;
const MAX_EVENT_BACKLOG = 1000;

/** Records Events on Peas without ever making a caller wait (client-go's EventRecorder). */
export class EventRecorder {
  private inFlight = 0;
  private readonly backlog: Array<() => Promise<void>> = [];

  /** `core`: client-node's CoreV1Api, or JsonCoreApi (json-api.ts), which the operator uses. */
  constructor(private readonly core: Pick<JsonCoreApi, 'createNamespacedEvent'>) {}

  /** Queues an Event about a Pea (or another kind of ours); dropped (said at debug) when the backlog is full. */
  record(pea: Involved, ev: PeaEvent, log: Logger, kind: string = KIND): void {
    if (this.backlog.length >= MAX_EVENT_BACKLOG) {
      log.debug({ reason: ev.reason }, 'event backlog full; dropping an event');
      return;
    }
    this.backlog.push(() => this.send(pea, ev, log, kind));
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < MAX_EVENTS_IN_FLIGHT && this.backlog.length > 0) {
      const send = this.backlog.shift() as () => Promise<void>;
      this.inFlight++;
      void send().finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async send(pea: Involved, ev: PeaEvent, log: Logger, kind: string): Promise<void> {
    const now = new Date();
    const ns = pea.metadata.namespace as string;
    const { name, uid, resourceVersion } = pea.metadata;
    try {
      await this.core.createNamespacedEvent({
        namespace: ns,
        body: {
          metadata: { generateName: `${name}.`, namespace: ns },
          involvedObject: { apiVersion: API_VERSION, kind, name, namespace: ns, uid, resourceVersion },
          type: ev.type,
          reason: ev.reason,
          message: ev.message,
          source: { component: 'peapods-operator' },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      log.warn({ err }, 'could not record an event');
    }
  }
}
