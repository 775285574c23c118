// The one place that keeps "once per process". decide() is pure and asks for two writes on
// every pass, as it cannot know what this process has already done; this memory lets each go
// out once per live Pea (key → the Pea's UID):
// - Cancel (decide.ts's cancelRpc action): sent only after the status that records it
//   (cancelTime) is written, then not again while the Pea is Cancelling.
// - the token Secret (createTokenSecret): the pod mounts it, and an operator killed between
//   creating the pod and its Secret would leave the pod waiting for ever; so a live Pea's
//   Secret is created again (409 when it exists) once per process, and with each new pod.
// A restarted operator or a new leader starts with an empty memory and cannot know whether
// the old one's writes arrived: each goes out once more, which is why both must be safe to
// repeat.

/** The writes remembered here. */
export type OnceWrite = 'cancel' | 'tokenSecret';

/** What this process has done once for each live Pea. */
export class OncePerProcess {
  private readonly done: Record<OnceWrite, Map<string, string>> = {
    cancel: new Map(),
    tokenSecret: new Map(),
  };

  /** Runs `write` unless this process did it for this Pea (same UID); remembered once it resolved. */
  async run(what: OnceWrite, key: string, uid: string, write: () => Promise<void>): Promise<void> {
    if (this.done[what].get(key) === uid) return;
    await write();
    this.did(what, key, uid);
  }

  /** Remembers a write made without run() (the Secret created together with a pod). */
  did(what: OnceWrite, key: string, uid: string): void {
    this.done[what].set(key, uid);
  }

  /** The Pea ended or is gone: its writes may go out again should it come back. */
  forget(key: string): void {
    for (const m of Object.values(this.done)) m.delete(key);
  }
}
