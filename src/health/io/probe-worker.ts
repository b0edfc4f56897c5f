/**
 * The probe thread (worker-prober.ts): sends the HTTP probes the leader's thread asks for and
 * answers with their outcomes, both in batches of whatever arrived in one turn of the event loop.
 * Slots and the `dispatch` step stay on the leader's thread; this thread sends at once.
 */
import { parentPort } from "node:worker_threads";
import { assert } from "../../lib/assert.js";
import { HttpProber } from "./http-prober.js";
import type { ProbeRequestBatch, ProbeResultBatch, ProbeThreadMessage } from "./probe-thread-messages.js";

const port = parentPort;
assert(port !== null, "probe-worker.js runs as a worker thread");
const prober = new HttpProber();
let results: ProbeResultBatch["results"] = [];
let flushing = false;

function flush(): void {
  flushing = false;
  const batch: ProbeResultBatch = { kind: "results", results };
  results = [];
  port?.postMessage(batch);
}

function send(batch: ProbeRequestBatch): void {
  for (const [id, origin, path, timeoutMs] of batch.probes)
    void prober.probe(origin, path, timeoutMs).then((outcome) => {
      results.push([id, outcome ?? "no-answer"]);
      if (flushing) return;
      flushing = true;
      setImmediate(flush);
    });
}

port.on("message", (message: ProbeThreadMessage) => {
  if (message.kind === "probes") send(message);
  else
    void prober.close().finally(() => {
      port.postMessage({ kind: "closed" } satisfies ProbeThreadMessage);
      port.close();
    });
});
