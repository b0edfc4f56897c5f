/**
 * The leader controllers' log without Raft: the real ClusterFsm, fed consecutive indexes, with
 * the real LeaderBarrier listening to what it applies. Nothing here is a stand-in for the FSM:
 * a proposal is encoded, applied by the FSM at a fresh index, and answered with the FSM's own
 * ApplyResult, exactly what RaftProposer returns once Raft has committed the entry.
 */
import {
  ClusterFsm,
  encodeCommand,
  LeaderBarrier,
  proposeOutcome,
  type ApplyResult,
  type ApplyValue,
  type CommandBody,
  type ProposeOutcome,
  type Proposer,
} from "../../src/fsm/index.js";
import type { Clock } from "../../src/lib/clock.js";
import { OrchestratorError } from "../../src/lib/errors.js";

/** A single replica's applied log: the FSM and the barrier that hears every applied index. */
export class InMemoryLog {
  readonly fsm = new ClusterFsm();
  readonly barrier = new LeaderBarrier();
  /** The last applied index. */
  index = 0;

  constructor(private readonly clock: Clock) {}

  /** Applies a command at the next index, stamped with the clock's wall time (the leader's, or an agent's report). */
  append(body: CommandBody): ApplyResult {
    const data = encodeCommand({ clientId: "", seq: 0, atMs: this.clock.wallMs(), body });
    return this.applyNext(data);
  }

  /** Applies an empty entry (a new leader's first entry of its term). */
  appendNoop(): void {
    this.applyNext(new Uint8Array());
  }

  /** Like append, failing the test on a refusal. */
  ok(body: CommandBody): ApplyValue {
    const result = this.append(body);
    if (!result.ok) throw new Error(`expected ${body.kind} to apply, got ${result.code}: ${result.message}`);
    return result.value;
  }

  private applyNext(data: Uint8Array): ApplyResult {
    this.index += 1;
    const result = this.fsm.apply(this.index, data);
    this.fsm.checkInvariants();
    this.barrier.applied(this.index);
    return result;
  }
}

/** A proposal as the log received it. */
export interface Proposal {
  readonly body: CommandBody;
  /** The wall time the proposer stamped into the command. */
  readonly atMs: number;
  readonly result: ApplyResult | null;
}

/**
 * The controllers' proposer on an InMemoryLog. Like RaftProposer it refuses when this replica
 * is not the Raft leader; otherwise the entry is applied on a microtask (never inside the
 * caller's stack, as the FSM forbids applying from a change listener), and the FSM's result
 * is the answer.
 */
export class InMemoryProposer implements Proposer {
  /** Every proposal, in order, with what the FSM answered (null: refused as not the leader). */
  readonly proposals: Proposal[] = [];
  /** Whether Raft would accept proposals (leader, before or after the barrier). */
  raftLeader = false;

  constructor(
    private readonly log: InMemoryLog,
    private readonly clock: Clock,
  ) {}

  async propose<K extends ApplyValue["kind"]>(body: CommandBody, kind: K): Promise<ProposeOutcome<K>> {
    const atMs = this.clock.wallMs();
    if (!this.raftLeader) {
      this.proposals.push({ body, atMs, result: null });
      return { ok: false, error: new OrchestratorError("UNAVAILABLE", "not the leader") };
    }
    await Promise.resolve();
    const result = this.log.append(body);
    this.proposals.push({ body, atMs, result });
    return proposeOutcome(result, kind);
  }

  /** The proposals of one kind, with their bodies narrowed to it. */
  of<K extends CommandBody["kind"]>(kind: K): Array<Proposal & { readonly body: Extract<CommandBody, { kind: K }> }> {
    return this.proposals.filter(
      (p): p is Proposal & { readonly body: Extract<CommandBody, { kind: K }> } => p.body.kind === kind,
    );
  }
}
