import { Worker } from "node:worker_threads";
import { HttpProber, probesInFlightMax } from "./http-prober.js";
import { ProbeSlots } from "./probe-slots.js";
import type { ProbeRequestBatch, ProbeThreadMessage } from "./probe-thread-messages.js";
import type { ProbeOutcome, Prober } from "./prober.js";

export interface WorkerProberOptions {
  /** The probe thread's script; probe-worker.js beside this module when absent. */
  readonly script?: URL;
  /** The probe thread failed: its probes in flight count as unanswered, and later ones go out from this thread. */
  readonly onThreadFailure?: (error: Error) => void;
}

/**
 * HttpProber on a thread of its own. A leader probing ten thousand containers a second spent
 * about half of its event loop on HTTP (bench/rollout.ts profile), and every Raft message,
 * placement and rollout step waited behind it. Here the leader's thread only keeps the slots and
 * runs `dispatch`, exactly as HttpProber does, and hands the requests over in one message per turn
 * of the event loop; the thread answers the same way.
 *
 * Should the thread fail, the probes it had are answered "no-answer" (nobody answered them) and
 * the rest go out from this thread through an HttpProber: probing never stops.
 */
export class WorkerProber implements Prober {
  private worker: Worker | null = null;
  private fallback: HttpProber | null = null;
  private closed = false;
  private readonly slots = new ProbeSlots(probesInFlightMax);
  private nextId = 1;
  private readonly answers = new Map<number, (outcome: ProbeOutcome) => void>();
  private batch: [number, string, string, number][] = [];
  private flushing = false;

  constructor(private readonly options: WorkerProberOptions = {}) {}

  async probe(
    origin: string,
    path: string,
    timeoutMs: number,
    dispatch: () => boolean = () => true,
  ): Promise<ProbeOutcome | null> {
    return this.slots.run(async () => {
      if (this.closed || !dispatch()) return null;
      if (this.fallback !== null) return this.fallback.probe(origin, path, timeoutMs);
      return this.viaThread(origin, path, timeoutMs);
    });
  }

  private viaThread(origin: string, path: string, timeoutMs: number): Promise<ProbeOutcome> {
    this.worker ??= this.startThread();
    const id = this.nextId++;
    this.batch.push([id, origin, path, timeoutMs]);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
    return new Promise((resolve) => this.answers.set(id, resolve));
  }

  private flush(): void {
    this.flushing = false;
    if (this.batch.length === 0 || this.worker === null) return;
    const message: ProbeRequestBatch = { kind: "probes", probes: this.batch };
    this.batch = [];
    this.worker.postMessage(message);
  }

  private startThread(): Worker {
    const worker = new Worker(this.options.script ?? new URL("./probe-worker.js", import.meta.url));
    // Probing must not keep a stopping replica alive.
    worker.unref();
    worker.on("message", (message: ProbeThreadMessage) => {
      if (message.kind !== "results") return;
      for (const [id, outcome] of message.results) {
        const answer = this.answers.get(id);
        this.answers.delete(id);
        answer?.(outcome);
      }
    });
    worker.on("error", (error) => this.threadFailed(worker, error));
    worker.on("exit", (code) => {
      if (!this.closed) this.threadFailed(worker, new Error(`the probe thread exited with code ${code}`));
    });
    return worker;
  }

  private threadFailed(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.fallback ??= new HttpProber();
    void worker.terminate();
    // Not yet handed over: these still go out, from this thread.
    const fallback = this.fallback;
    for (const [id, origin, path, timeoutMs] of this.batch) {
      const answer = this.answers.get(id);
      this.answers.delete(id);
      void fallback.probe(origin, path, timeoutMs).then((outcome) => answer?.(outcome ?? "no-answer"));
    }
    this.batch = [];
    // Handed over: whatever the thread did with them, no answer came back.
    for (const answer of this.answers.values()) answer("no-answer");
    this.answers.clear();
    this.options.onThreadFailure?.(error);
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    if (worker !== null) {
      const closed = new Promise<void>((resolve) => {
        worker.on("message", (message: ProbeThreadMessage) => {
          if (message.kind === "closed") resolve();
        });
        worker.once("exit", () => resolve());
      });
      worker.postMessage({ kind: "close" } satisfies ProbeThreadMessage);
      await closed;
      await worker.terminate();
    }
    for (const answer of this.answers.values()) answer("no-answer");
    this.answers.clear();
    await this.fallback?.close();
  }
}
