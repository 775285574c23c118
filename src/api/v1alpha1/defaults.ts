// Plain values of the Pea API that programs other than the operator need: kept apart from
// types.ts so that importing them does not build the TypeBox schemas. The sidecar reads its
// timeout defaults from here, and every Pea pod waits for the sidecar's start (building the
// schemas cost it some 80 ms).

/**
 * The timeouts of a Pea that sets none, as Timeouts; also the CRD's defaults, so `kubectl get -o yaml` shows them.
 * Not annotated `: Timeouts`: that type derives from the schema that reads these values.
 */
export const DEFAULT_TIMEOUTS = { readySeconds: 300, cancelSeconds: 10, teardownSeconds: 30 };
