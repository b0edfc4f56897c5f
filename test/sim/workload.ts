import { assert } from "../../src/lib/assert.js";
import type { Prng } from "../../src/lib/prng.js";
import type { Entry, ReplicaId, Snapshot } from "../../src/raft/core/types.js";
import { NO_REPLICA } from "../../src/raft/core/types.js";
import type { KvWrite } from "./kv-command.js";
import { encodeKvWrite } from "./kv-command.js";
import type { HistoryEvent } from "./linearizability.js";
import type { SimClock } from "./sim-clock.js";
import { simLimits } from "./sim-limits.js";
import type { SimReplica } from "./sim-replica.js";

/** What the clients see of the cluster: an address book and logical time. */
export interface WorkloadCluster {
  readonly clock: SimClock;
  /** Replicas a client may contact (every replica started at least once). */
  addressBook(): readonly SimReplica[];
  replica(id: ReplicaId): SimReplica | undefined;
  trace(line: string): void;
}

export interface WorkloadSettings {
  readonly clients: number;
  readonly keys: number;
  readonly opTimeoutTicks: number;
  /** Idle ticks between a client's operations: 0..thinkTicksMax. */
  readonly thinkTicksMax: number;
  /** A read not confirmed after this many ticks is asked again (reads have no side effect). */
  readonly readRetryTicks: number;
  /** Deliberately unsafe: answer reads from the contacted replica's local state at once. */
  readonly unsafeLocalReads: boolean;
}

/** A write the cluster acknowledged; it must survive everything. */
export interface AckedWrite {
  readonly clientId: number;
  readonly seq: number;
  readonly key: string;
  readonly value: string;
  readonly index: number;
  readonly ackedAtTick: number;
}

type Phase =
  | { readonly kind: "routing" }
  | {
      readonly kind: "waiting-write";
      readonly replica: ReplicaId;
      readonly incarnation: number;
      readonly index: number;
      readonly term: number;
    }
  | {
      readonly kind: "waiting-read";
      readonly replica: ReplicaId;
      readonly incarnation: number;
      readonly context: string;
      readonly sinceTick: number;
    };

interface Operation {
  readonly event: HistoryEvent;
  /** Set for writes: what goes into the log. */
  readonly write: KvWrite | null;
  readonly deadlineTick: number;
  phase: Phase;
  /** Where to try next; null picks the client's known leader or a random replica. */
  target: ReplicaId | null;
  readAttempts: number;
}

interface SimClient {
  readonly id: number;
  nextSeq: number;
  knownLeader: ReplicaId | null;
  nextOpTick: number;
  op: Operation | null;
  /** Only writes, only to `onlyKey` (the liveness probe). */
  readonly onlyKey: string | null;
}

/**
 * Clients issuing writes of unique values and ReadIndex reads on a few keys, one operation at
 * a time each. They find the leader through redirects, retry a write only when it definitely
 * failed, and give up after a timeout, leaving the outcome unknown (returnedAt null).
 */
export class Workload {
  readonly history: HistoryEvent[] = [];
  readonly acked: AckedWrite[] = [];
  private readonly clients: SimClient[] = [];
  private nextEventId = 1;
  private probe: SimClient | null = null;
  /** Counters for the summary. */
  writesAcked = 0;
  writesRetried = 0;
  readsServed = 0;
  timeouts = 0;

  constructor(
    private readonly settings: WorkloadSettings,
    private readonly cluster: WorkloadCluster,
    private readonly prng: Prng,
  ) {
    assert(settings.clients <= simLimits.clientsMax, "too many clients");
    for (let id = 1; id <= settings.clients; id++) {
      this.clients.push({ id, nextSeq: 1, knownLeader: null, nextOpTick: prng.nextInt(20), op: null, onlyKey: null });
    }
  }

  /** Adds a client that writes key `key` back to back, to prove the healed cluster commits. */
  startProbe(key: string): void {
    assert(this.probe === null, "one probe per run");
    this.probe = { id: 0, nextSeq: 1, knownLeader: null, nextOpTick: this.cluster.clock.tick, op: null, onlyKey: key };
    this.clients.push(this.probe);
  }

  /** The first write the probe got acknowledged, if any. */
  probeAck(): AckedWrite | undefined {
    return this.acked.find((ack) => ack.clientId === 0);
  }

  stopIssuing(): void {
    for (const client of this.clients) client.nextOpTick = Number.MAX_SAFE_INTEGER;
  }

  tick(): void {
    const now = this.cluster.clock.tick;
    for (const client of this.clients) {
      const op = client.op;
      if (op === null) {
        if (now >= client.nextOpTick && this.history.length < simLimits.historyEventsMax) this.begin(client, now);
        continue;
      }
      if (now >= op.deadlineTick) {
        this.finish(client, null, false);
        this.timeouts++;
        continue;
      }
      if (op.phase.kind === "waiting-read" && now - op.phase.sinceTick >= this.settings.readRetryTicks) {
        op.phase = { kind: "routing" };
        op.target = null;
      }
      if (op.phase.kind === "routing") this.route(client, op);
    }
  }

  private begin(client: SimClient, now: number): void {
    const isWrite = client.onlyKey !== null || this.prng.chance(0.5);
    const key = client.onlyKey ?? `k${this.prng.nextInt(this.settings.keys)}`;
    const seq = client.nextSeq++;
    const write: KvWrite | null = isWrite ? { clientId: client.id, seq, key, value: `c${client.id}.${seq}` } : null;
    const event: HistoryEvent = {
      id: this.nextEventId++,
      clientId: client.id,
      op: write !== null ? { kind: "write", key, value: write.value } : { kind: "read", key },
      invokedAt: this.cluster.clock.stamp(),
      returnedAt: null,
      output: null,
    };
    this.history.push(event);
    client.op = {
      event,
      write,
      deadlineTick: now + this.settings.opTimeoutTicks,
      phase: { kind: "routing" },
      target: null,
      readAttempts: 0,
    };
    this.route(client, client.op);
  }

  /** Tries to hand the operation to a leader, following redirects a few times per tick. */
  private route(client: SimClient, op: Operation): void {
    for (let attempt = 0; attempt < simLimits.clientAttemptsPerTickMax; attempt++) {
      const replica = this.pickTarget(client, op);
      if (replica === undefined) return;
      if (!replica.isUp) {
        // Connection refused: forget this address and try elsewhere next tick.
        this.forgetTarget(client, op);
        return;
      }
      const redirect =
        op.write !== null ? this.tryWrite(client, op, op.write, replica) : this.tryRead(client, op, replica);
      if (redirect === "done" || redirect === "back-off") return;
      op.target = redirect === NO_REPLICA || redirect === replica.id ? null : redirect;
      client.knownLeader = op.target;
    }
  }

  private pickTarget(client: SimClient, op: Operation): SimReplica | undefined {
    // Unsafe local reads go anywhere, which is what makes them stale.
    const id = op.write === null && this.settings.unsafeLocalReads ? null : (op.target ?? client.knownLeader);
    if (id !== null) return this.cluster.replica(id);
    const book = this.cluster.addressBook();
    return book.length === 0 ? undefined : this.prng.pick(book);
  }

  private forgetTarget(client: SimClient, op: Operation): void {
    op.target = null;
    client.knownLeader = null;
  }

  /** Returns "done", "back-off", or the leader hint to follow. */
  private tryWrite(
    client: SimClient,
    op: Operation,
    write: KvWrite,
    replica: SimReplica,
  ): "done" | "back-off" | ReplicaId {
    const result = replica.propose(encodeKvWrite(write));
    if (result.ok) {
      op.phase = {
        kind: "waiting-write",
        replica: replica.id,
        incarnation: replica.incarnation,
        index: result.index,
        term: result.term,
      };
      client.knownLeader = replica.id;
      return "done";
    }
    if (result.error === "not-leader") return result.leader;
    return "back-off";
  }

  private tryRead(client: SimClient, op: Operation, replica: SimReplica): "done" | "back-off" | ReplicaId {
    if (this.settings.unsafeLocalReads) {
      this.readsServed++;
      this.finish(client, replica.sm.get(op.event.op.key), true);
      return "done";
    }
    const context = `read.${op.event.id}.${op.readAttempts++}`;
    const result = replica.readIndex(context);
    if (result.ok) {
      op.phase = {
        kind: "waiting-read",
        replica: replica.id,
        incarnation: replica.incarnation,
        context,
        sinceTick: this.cluster.clock.tick,
      };
      client.knownLeader = replica.id;
      return "done";
    }
    if (result.error === "not-leader") return result.leader;
    return "back-off";
  }

  private finish(client: SimClient, output: string | null, returned: boolean): void {
    const op = client.op;
    assert(op !== null, "finish without an operation");
    if (returned) {
      op.event.returnedAt = this.cluster.clock.stamp();
      op.event.output = output;
    }
    client.op = null;
    client.nextOpTick = this.cluster.clock.tick + this.prng.nextInt(this.settings.thinkTicksMax + 1);
  }

  private waitingOn(
    replica: SimReplica,
    kind: "waiting-write" | "waiting-read",
  ): { client: SimClient; op: Operation }[] {
    const found: { client: SimClient; op: Operation }[] = [];
    for (const client of this.clients) {
      const op = client.op;
      if (op === null || op.phase.kind !== kind) continue;
      if (op.phase.replica !== replica.id || op.phase.incarnation !== replica.incarnation) continue;
      found.push({ client, op });
    }
    return found;
  }

  /** A proposal {index, term} succeeded iff the entry applied at index has that term. */
  onApplied(replica: SimReplica, entry: Entry): void {
    for (const { client, op } of this.waitingOn(replica, "waiting-write")) {
      if (op.phase.kind !== "waiting-write" || op.phase.index !== entry.index) continue;
      this.settleWrite(client, op, entry.term === op.phase.term, entry.index);
    }
  }

  /** A snapshot jumped over waiting proposals; the dedup set says whether each took effect. */
  onSnapshotRestored(replica: SimReplica, snapshot: Snapshot): void {
    for (const { client, op } of this.waitingOn(replica, "waiting-write")) {
      if (op.phase.kind !== "waiting-write" || op.phase.index > snapshot.meta.index || op.write === null) continue;
      this.settleWrite(client, op, replica.sm.hasApplied(op.write.clientId, op.write.seq), op.phase.index);
    }
  }

  private settleWrite(client: SimClient, op: Operation, succeeded: boolean, index: number): void {
    const write = op.write;
    assert(write !== null, "settling a read as a write");
    if (!succeeded) {
      // Something else took the index, so this proposal can never commit: safe to retry.
      this.writesRetried++;
      op.phase = { kind: "routing" };
      this.forgetTarget(client, op);
      return;
    }
    this.writesAcked++;
    this.acked.push({
      clientId: write.clientId,
      seq: write.seq,
      key: write.key,
      value: write.value,
      index,
      ackedAtTick: this.cluster.clock.tick,
    });
    this.finish(client, null, true);
  }

  onReadReady(replica: SimReplica, context: string): void {
    for (const { client, op } of this.waitingOn(replica, "waiting-read")) {
      if (op.phase.kind !== "waiting-read" || op.phase.context !== context) continue;
      this.readsServed++;
      this.finish(client, replica.sm.get(op.event.op.key), true);
    }
  }

  /** The connection broke: a write's fate is now unknown; a read is simply asked elsewhere. */
  onReplicaDown(replica: SimReplica): void {
    for (const client of this.clients) {
      const op = client.op;
      if (op === null || op.phase.kind === "routing" || op.phase.replica !== replica.id) continue;
      if (op.phase.kind === "waiting-write") this.finish(client, null, false);
      else {
        op.phase = { kind: "routing" };
        this.forgetTarget(client, op);
      }
    }
    for (const client of this.clients) if (client.knownLeader === replica.id) client.knownLeader = null;
  }
}
