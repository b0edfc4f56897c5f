import { assert, assertNever } from "../../lib/assert.js";
import type { RaftConfig } from "./config.js";
import { validateRaftConfig } from "./config.js";
import { decodeConfChange, encodeConfChange } from "./conf-change-codec.js";
import type { LogStorage } from "./log-storage.js";
import { Progress } from "./progress.js";
import { committedIndex, hasQuorum, voteResult } from "./quorum.js";
import { RaftLog } from "./raft-log.js";
import type { BasicStatus, ProposeResult, ReadIndexResult, Status, ProgressStatus } from "./results.js";
import { ReadOnlyQueue } from "./read-only.js";
import type { Ready } from "./ready.js";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  ReadState,
  ReplicaId,
  Role,
  Snapshot,
  SoftState,
} from "./types.js";
import { NO_REPLICA, entryBytes, message } from "./types.js";

type CampaignKind = "pre-election" | "election" | "transfer";

/** How far behind the commit index a learner may be and still be promoted. */
export const learnerCatchUpEntriesMax = 256;

/**
 * The Raft state machine. Roles swap the step and tick behaviour; all time is ticks, all
 * randomness comes from config.random, all output leaves through ready().
 */
export class Raft {
  private readonly config: RaftConfig;
  private readonly id: ReplicaId;
  private readonly log: RaftLog;

  private term = 0;
  private vote: ReplicaId = NO_REPLICA;
  private role: Role = "follower";
  private leader: ReplicaId = NO_REPLICA;

  private voters: ReplicaId[] = [];
  private learners: ReplicaId[] = [];
  /** Replication progress of every voter and learner; maintained on the leader only. */
  private progress = new Map<ReplicaId, Progress>();
  private votes = new Map<ReplicaId, boolean>();

  private electionElapsedTicks = 0;
  /** Ticks since this replica became leader: the clock of its read lease. */
  private leaderTicks = 0;
  /** After a TimeoutNow, only heartbeats sent later can support a lease: the target's forced votes ignore ours. */
  private leaseValidFromTicks = 0;
  private heartbeatElapsedTicks = 0;
  private randomizedElectionTimeoutTicks = 0;
  /** Ticks until a pre-vote after the transport reported the leader's connection lost. */
  private leaderLostCountdownTicks: number | null = null;

  private leadTransferee: ReplicaId = NO_REPLICA;
  /** Index of the latest conf-change entry; a new one waits until it is applied. */
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  /** Proposals since the last Ready, broadcast together in one append per follower. */
  private broadcastPending = false;

  private readonly readOnly = new ReadOnlyQueue();
  /** Reads received before this leader committed an entry of its own term. */
  private readsAwaitingCommit: { context: string; from: ReplicaId }[] = [];

  private outbox: Message[] = [];
  private readStates: ReadState[] = [];
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private readyInFlight = false;

  constructor(config: RaftConfig, storage: LogStorage) {
    validateRaftConfig(config);
    this.config = config;
    this.id = config.id;
    const { hardState, confState } = storage.initialState();
    this.log = new RaftLog(storage, hardState.commit);
    this.applyConfState(confState);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(this.term, NO_REPLICA);
    this.prevSoftState = { leader: this.leader, role: this.role };
    this.prevHardState = hardState;
  }

  // ---------------------------------------------------------------- inputs

  tick(): void {
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  step(m: Message): void {
    if (!this.isWellFormed(m)) return;
    if (!this.stepTerm(m)) return;
    switch (m.type) {
      case "vote":
      case "pre-vote":
        this.handleVoteRequest(m);
        return;
      default:
        break;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        return;
      case "candidate":
      case "pre-candidate":
        this.stepCandidate(m);
        return;
      case "follower":
        this.stepFollower(m);
        return;
      default:
        assertNever(this.role, "role");
    }
  }

  propose(data: Uint8Array): ProposeResult {
    const refusal = this.proposalRefusal(data.byteLength);
    if (refusal !== undefined) return refusal;
    return this.appendProposal("normal", data);
  }

  proposeConfigChange(change: ConfChange): ProposeResult {
    const data = encodeConfChange(change);
    const refusal = this.proposalRefusal(data.byteLength);
    if (refusal !== undefined) return refusal;
    if (this.pendingConfIndex > this.log.applied)
      return { ok: false, error: "conf-change-pending", leader: this.leader };
    if (!this.isValidConfChange(change)) return { ok: false, error: "invalid-conf-change", leader: this.leader };
    const result = this.appendProposal("conf-change", data);
    if (result.ok) this.pendingConfIndex = result.index;
    return result;
  }

  readIndex(context: string): ReadIndexResult {
    if (this.role !== "leader") {
      if (this.leader === NO_REPLICA) return { ok: false, error: "not-leader", leader: NO_REPLICA };
      // A follower asks the leader, which answers with read-index-resp once confirmed.
      this.send(message({ type: "read-index", from: this.id, to: this.leader, term: this.term, context }));
      return { ok: true };
    }
    if (this.readOnly.size + this.readsAwaitingCommit.length >= this.config.pendingReadsMax) {
      return { ok: false, error: "too-many-reads", leader: this.leader };
    }
    this.leaderReadIndex(context, this.id);
    return { ok: true };
  }

  transferLeadership(to: ReplicaId): void {
    if (this.role !== "leader") return;
    if (to === this.id || !this.voters.includes(to)) return;
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    // The transfer must finish within one election timeout or it is abandoned.
    this.electionElapsedTicks = 0;
    const pr = this.progress.get(to);
    assert(pr !== undefined, "transferee has no progress");
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  reportLeaderConnectionLost(): void {
    if (this.role !== "follower" || this.leader === NO_REPLICA || !this.isPromotable()) return;
    // Forgetting the leader early would break the lease other replicas' leaders rely on.
    if (this.config.readOnly === "lease") return;
    // Survivors pre-vote in bands ordered by id, so two of them rarely campaign in the same tick
    // and split the vote (which would cost a full election timeout); jitter within a band.
    const survivors = this.voters.filter((id) => id !== this.leader).sort();
    const rank = Math.max(0, survivors.indexOf(this.id));
    const band = this.config.leaderLostDelayTicksMax;
    this.leader = NO_REPLICA;
    this.leaderLostCountdownTicks =
      rank * band +
      this.config.random.nextIntBetween(this.config.leaderLostDelayTicksMin, this.config.leaderLostDelayTicksMax);
  }

  reportUnreachable(peer: ReplicaId): void {
    if (this.role !== "leader") return;
    const pr = this.progress.get(peer);
    // Stop pipelining into a broken connection; probe again once it answers.
    if (pr !== undefined && pr.state === "replicate") pr.becomeProbe();
  }

  reportSnapshot(peer: ReplicaId, ok: boolean): void {
    if (this.role !== "leader") return;
    const pr = this.progress.get(peer);
    if (pr === undefined || pr.state !== "snapshot") return;
    // On failure forget the snapshot; on success wait in probe for the follower's answer.
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    pr.probeSent = true;
  }

  // ---------------------------------------------------------------- ready / advance

  hasReady(): boolean {
    if (this.readyInFlight) return false;
    if (this.broadcastPending) return true;
    const soft = this.softState();
    if (soft.leader !== this.prevSoftState.leader || soft.role !== this.prevSoftState.role) return true;
    if (!sameHardState(this.hardState(), this.prevHardState)) return true;
    if (this.log.unstable.snapshot !== null || this.log.unstable.entries.length > 0) return true;
    if (this.outbox.length > 0 || this.readStates.length > 0) return true;
    return this.log.hasNextCommittedEntries();
  }

  ready(): Ready {
    assert(!this.readyInFlight, "ready() called again before advance()");
    this.flushBroadcast();
    const soft = this.softState();
    const hard = this.hardState();
    const softChanged = soft.leader !== this.prevSoftState.leader || soft.role !== this.prevSoftState.role;
    const hardChanged = !sameHardState(hard, this.prevHardState);
    const entries = this.log.unstableEntries();
    const snapshot = this.log.unstable.snapshot;
    const rd: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      entries,
      snapshot,
      committedEntries: this.log.nextCommittedEntries(this.config.committedBytesPerReadyMax),
      messages: this.outbox,
      readStates: this.readStates,
      mustSync:
        entries.length > 0 ||
        snapshot !== null ||
        hard.term !== this.prevHardState.term ||
        hard.vote !== this.prevHardState.vote,
    };
    this.outbox = [];
    this.readStates = [];
    this.readyInFlight = true;
    return rd;
  }

  advance(rd: Ready): void {
    assert(this.readyInFlight, "advance() without a ready()");
    this.readyInFlight = false;
    if (rd.softState !== null) this.prevSoftState = rd.softState;
    if (rd.hardState !== null) this.prevHardState = rd.hardState;
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      this.log.unstable.stableTo(last.index, last.term);
    }
    if (rd.snapshot !== null) {
      this.log.unstable.stableSnapTo(rd.snapshot.meta.index);
      this.log.appliedTo(rd.snapshot.meta.index);
    }
    for (const entry of rd.committedEntries) {
      if (entry.index <= this.log.applied) continue;
      this.log.appliedTo(entry.index);
      if (this.role === "leader") this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entryBytes(entry));
      if (entry.type === "conf-change") this.applyConfChangeEntry(entry);
    }
  }

  basicStatus(): BasicStatus {
    return { term: this.term, role: this.role, leader: this.leader };
  }

  status(): Status {
    const progress = new Map<ReplicaId, ProgressStatus>();
    if (this.role === "leader") {
      for (const [id, pr] of this.progress) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      role: this.role,
      leader: this.leader,
      conf: this.confState(),
      leadTransferee: this.leadTransferee,
      progress,
    };
  }

  checkInvariants(): void {
    assert(this.log.applied <= this.log.committed, `applied ${this.log.applied} > committed ${this.log.committed}`);
    assert(
      this.log.committed <= this.log.lastIndex(),
      `committed ${this.log.committed} > last ${this.log.lastIndex()}`,
    );
    assert(this.log.committed >= this.log.firstIndex() - 1, "committed below the snapshot");
    assert(this.prevHardState.term <= this.term, "term went backwards");
    if (this.role === "leader") {
      assert(this.leader === this.id, "leader does not know it leads");
      assert(this.vote === this.id, "leader did not vote for itself");
      const self = this.progress.get(this.id);
      if (self !== undefined) assert(self.match === this.log.lastIndex(), "leader's own match is not its last index");
      for (const [id, pr] of this.progress) {
        assert(pr.match < pr.next, `progress of ${id}: match ${pr.match} >= next ${pr.next}`);
        assert(pr.next <= this.log.lastIndex() + 1, `progress of ${id}: next beyond the log`);
      }
    }
    if (this.role === "candidate") assert(this.vote === this.id, "candidate did not vote for itself");
    for (const id of this.learners) assert(!this.voters.includes(id), `${id} is both voter and learner`);
    assert(this.uncommittedBytes >= 0, "negative uncommitted bytes");
  }

  // ---------------------------------------------------------------- terms and roles

  /** Applies the term rules to an incoming message; returns false when the message is done with. */
  private stepTerm(m: Message): boolean {
    if (m.term > this.term) {
      if (m.type === "vote" || m.type === "pre-vote") {
        // A replica that heard from a live leader within the election timeout ignores
        // campaigns: this keeps a rejoining partitioned replica from disrupting the cluster.
        const inLease =
          this.config.checkQuorum &&
          this.leader !== NO_REPLICA &&
          this.electionElapsedTicks < this.config.electionTimeoutTicks;
        if (!m.force && inLease) return false;
      }
      if (m.type === "pre-vote") return true;
      if (m.type === "pre-vote-resp" && !m.reject) return true;
      const fromLeader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot";
      this.becomeFollower(m.term, fromLeader ? m.from : NO_REPLICA);
      return true;
    }
    if (m.term < this.term) {
      if ((this.config.checkQuorum || this.config.preVote) && (m.type === "append" || m.type === "heartbeat")) {
        // Tell a stale leader about the newer term, or it may never step down.
        this.send(message({ type: "append-resp", from: this.id, to: m.from, term: this.term }));
      } else if (m.type === "pre-vote") {
        this.send(message({ type: "pre-vote-resp", from: this.id, to: m.from, term: this.term, reject: true }));
      }
      return false;
    }
    return true;
  }

  private becomeFollower(term: number, leader: ReplicaId): void {
    this.reset(term);
    this.role = "follower";
    this.leader = leader;
  }

  private becomePreCandidate(): void {
    assert(this.role !== "leader", "leader cannot become pre-candidate");
    // A pre-candidate keeps its term and vote: pre-votes change nothing durable.
    this.votes.clear();
    this.role = "pre-candidate";
    this.leader = NO_REPLICA;
    this.electionElapsedTicks = 0;
    this.leaderLostCountdownTicks = null;
    this.resetRandomizedElectionTimeout();
  }

  private becomeCandidate(): void {
    assert(this.role !== "leader", "leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    this.reset(this.term);
    this.role = "leader";
    this.leader = this.id;
    this.initProgress();
    // Conservatively assume an unapplied conf change may be in the log.
    this.pendingConfIndex = this.log.lastIndex();
    // An empty entry of our term lets us commit everything before it (Figure 8).
    const noop: Entry = { term: this.term, index: this.log.lastIndex() + 1, type: "normal", data: new Uint8Array(0) };
    this.appendLocal([noop]);
    this.broadcastPending = true;
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NO_REPLICA;
    }
    this.leader = NO_REPLICA;
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.leaderTicks = 0;
    this.leaseValidFromTicks = 0;
    this.leaderLostCountdownTicks = null;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NO_REPLICA;
    this.votes.clear();
    this.progress.clear();
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.broadcastPending = false;
    this.readOnly.clear();
    this.readsAwaitingCommit = [];
  }

  private resetRandomizedElectionTimeout(): void {
    const base = this.config.electionTimeoutTicks;
    this.randomizedElectionTimeoutTicks = this.config.random.nextIntBetween(base, 2 * base);
  }

  private initProgress(): void {
    const last = this.log.lastIndex();
    for (const id of this.voters) this.progress.set(id, this.newProgress(id, false, last));
    for (const id of this.learners) this.progress.set(id, this.newProgress(id, true, last));
  }

  private newProgress(id: ReplicaId, isLearner: boolean, last: number): Progress {
    const pr = new Progress(0, last + 1, this.config.inflightMessagesMax, isLearner);
    if (id === this.id) {
      pr.match = last;
      pr.becomeReplicate();
    }
    pr.recentActive = id === this.id;
    return pr;
  }

  private isPromotable(): boolean {
    return this.voters.includes(this.id);
  }

  // ---------------------------------------------------------------- ticks

  private tickElection(): void {
    this.electionElapsedTicks++;
    if (this.leaderLostCountdownTicks !== null) {
      this.leaderLostCountdownTicks--;
      if (this.leaderLostCountdownTicks <= 0) {
        this.leaderLostCountdownTicks = null;
        this.electionElapsedTicks = 0;
        this.campaign(this.config.preVote ? "pre-election" : "election");
        return;
      }
    }
    if (this.isPromotable() && this.electionElapsedTicks >= this.randomizedElectionTimeoutTicks) {
      this.electionElapsedTicks = 0;
      this.campaign(this.config.preVote ? "pre-election" : "election");
    }
  }

  private tickHeartbeat(): void {
    this.leaderTicks++;
    this.heartbeatElapsedTicks++;
    this.electionElapsedTicks++;
    if (this.electionElapsedTicks >= this.config.electionTimeoutTicks) {
      this.electionElapsedTicks = 0;
      if (this.config.checkQuorum && !this.checkQuorumActive()) {
        this.becomeFollower(this.term, NO_REPLICA);
        return;
      }
      if (this.leadTransferee !== NO_REPLICA) this.leadTransferee = NO_REPLICA;
    }
    if (this.heartbeatElapsedTicks >= this.config.heartbeatIntervalTicks) {
      this.heartbeatElapsedTicks = 0;
      this.broadcastHeartbeat(this.readOnly.last() ?? "");
    }
  }

  /** A leader that did not hear from a quorum during the last election timeout steps down. */
  private checkQuorumActive(): boolean {
    const active = hasQuorum(this.voters, (id) => id === this.id || this.progress.get(id)?.recentActive === true);
    for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
    return active;
  }

  // ---------------------------------------------------------------- elections

  private campaign(kind: CampaignKind): void {
    if (!this.isPromotable()) return;
    let voteType: MessageType;
    let voteTerm: number;
    if (kind === "pre-election") {
      this.becomePreCandidate();
      voteType = "pre-vote";
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = "vote";
      voteTerm = this.term;
    }
    if (this.recordVote(this.id, true) === "won") {
      this.onElectionWon(kind);
      return;
    }
    for (const id of this.voters) {
      if (id === this.id) continue;
      this.send(
        message({
          type: voteType,
          from: this.id,
          to: id,
          term: voteTerm,
          logIndex: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          force: kind === "transfer",
        }),
      );
    }
  }

  private onElectionWon(kind: CampaignKind): void {
    if (kind === "pre-election" || this.role === "pre-candidate") this.campaign("election");
    else this.becomeLeader();
  }

  private recordVote(id: ReplicaId, granted: boolean): "won" | "lost" | "pending" {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return voteResult(this.voters, this.votes);
  }

  private handleVoteRequest(m: Message): void {
    const isPreVote = m.type === "pre-vote";
    const respType: MessageType = isPreVote ? "pre-vote-resp" : "vote-resp";
    const canVote =
      this.vote === m.from ||
      (this.vote === NO_REPLICA && this.leader === NO_REPLICA) ||
      (isPreVote && m.term > this.term) ||
      (this.config.bugs.voteTwicePerTerm === true && this.role !== "leader");
    if (canVote && this.log.isUpToDate(m.logIndex, m.logTerm)) {
      // A pre-vote answer carries the candidate's future term so it is not taken as stale.
      this.send(message({ type: respType, from: this.id, to: m.from, term: m.term }));
      if (!isPreVote) {
        this.electionElapsedTicks = 0;
        this.vote = m.from;
      }
    } else {
      this.send(message({ type: respType, from: this.id, to: m.from, term: this.term, reject: true }));
    }
  }

  private stepCandidate(m: Message): void {
    const expectedResp: MessageType = this.role === "pre-candidate" ? "pre-vote-resp" : "vote-resp";
    switch (m.type) {
      case "append":
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case "snapshot":
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case "vote-resp":
      case "pre-vote-resp": {
        if (m.type !== expectedResp) return;
        const result = this.recordVote(m.from, !m.reject);
        if (result === "won") this.onElectionWon(this.role === "pre-candidate" ? "pre-election" : "election");
        else if (result === "lost") this.becomeFollower(this.term, NO_REPLICA);
        return;
      }
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- follower

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case "snapshot":
        this.heardFromLeader(m.from);
        this.handleSnapshot(m);
        return;
      case "timeout-now":
        // The leader asks us to take over at once: skip pre-vote and the lease check.
        this.campaign("transfer");
        return;
      case "read-index-resp":
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private heardFromLeader(leader: ReplicaId): void {
    this.electionElapsedTicks = 0;
    this.leaderLostCountdownTicks = null;
    this.leader = leader;
  }

  private handleAppend(m: Message): void {
    if (m.logIndex < this.log.committed) {
      this.send(
        message({ type: "append-resp", from: this.id, to: m.from, term: this.term, index: this.log.committed }),
      );
      return;
    }
    const lastNew = this.log.maybeAppend(m.logIndex, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(message({ type: "append-resp", from: this.id, to: m.from, term: this.term, index: lastNew }));
      return;
    }
    // Point the leader at the last entry that can possibly match, skipping a whole term at once.
    const hint = this.log.findConflictByTerm(Math.min(m.logIndex, this.log.lastIndex()), m.logTerm);
    this.send(
      message({
        type: "append-resp",
        from: this.id,
        to: m.from,
        term: this.term,
        index: m.logIndex,
        reject: true,
        rejectHint: hint.index,
        logTerm: hint.term,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    // The leader sends min(our match, its commit), so this never points beyond our log.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send(
      message({
        type: "heartbeat-resp",
        from: this.id,
        to: m.from,
        term: this.term,
        context: m.context,
        logIndex: m.logIndex,
      }),
    );
  }

  private handleSnapshot(m: Message): void {
    assert(m.snapshot !== null, "snapshot message without a snapshot");
    const restored = this.restore(m.snapshot);
    const index = restored ? this.log.lastIndex() : this.log.committed;
    this.send(message({ type: "append-resp", from: this.id, to: m.from, term: this.term, index }));
  }

  private restore(snapshot: Snapshot): boolean {
    const { index, term } = snapshot.meta;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // We already have the entries; just learn that they are committed.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.applyConfState(snapshot.meta.conf);
    return true;
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(m: Message): void {
    if (m.type === "read-index") {
      if (this.readOnly.size + this.readsAwaitingCommit.length < this.config.pendingReadsMax)
        this.leaderReadIndex(m.context, m.from);
      return;
    }
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case "append-resp":
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        return;
      case "heartbeat-resp":
        pr.recentActive = true;
        this.handleHeartbeatResponse(m, pr);
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecreaseTo(m.index, nextProbe)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && pr.state === "probe") this.sendAppend(m.from);
      return;
    }
    if (pr.state === "probe") pr.becomeReplicate();
    else if (pr.state === "snapshot" && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === "replicate") pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) this.broadcastAppend(!this.config.lazyCommitBroadcast);
    // A follower that was paused when the commit index moved must still hear about it (with a
    // lazy broadcast, the next heartbeat tells it).
    else
      this.fillWindow(
        m.from,
        !this.config.lazyCommitBroadcast && pr.sentCommit < Math.min(this.log.committed, pr.match),
      );
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.probeSent = false;
    pr.leaseAckTicks = Math.max(pr.leaseAckTicks, m.logIndex);
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    // Lease mode falls back to the same heartbeat round when it holds no lease, so count acks in both modes.
    if (m.context === "") return;
    const acks = this.readOnly.ack(m.context, m.from);
    if (acks === undefined) return;
    if (!hasQuorum(this.voters, (id) => acks.has(id))) return;
    for (const read of this.readOnly.releaseUpTo(m.context)) this.releaseRead(read.index, read.context, read.from);
  }

  private leaderReadIndex(context: string, from: ReplicaId): void {
    // Until an entry of our term commits, our commit index may lag the real one.
    if (this.log.term(this.log.committed) !== this.term) {
      this.readsAwaitingCommit.push({ context, from });
      return;
    }
    const index = this.log.committed;
    if (this.voters.length === 1 && this.voters[0] === this.id) {
      this.releaseRead(index, context, from);
      return;
    }
    if (this.config.readOnly === "lease" && this.holdsLease()) {
      this.releaseRead(index, context, from);
      return;
    }
    if (this.readOnly.has(context)) return;
    this.readOnly.add(index, context, from, this.id);
    this.broadcastHeartbeat(context);
  }

  /**
   * A follower ignores campaigns for an election timeout after it hears from us. A heartbeat
   * sent at leader tick t and acknowledged by a quorum therefore guarantees no other leader
   * before about t + electionTimeout; a margin absorbs tick-rate drift between processes.
   */
  private holdsLease(): boolean {
    const acked = committedIndex(this.voters, (id) =>
      id === this.id ? this.leaderTicks : (this.progress.get(id)?.leaseAckTicks ?? 0),
    );
    if (acked === 0 || acked < this.leaseValidFromTicks) return false;
    const margin = Math.ceil(this.config.electionTimeoutTicks / 10) + 1;
    return this.leaderTicks < acked + this.config.electionTimeoutTicks - margin;
  }

  private releaseRead(index: number, context: string, from: ReplicaId): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send(message({ type: "read-index-resp", from: this.id, to: from, term: this.term, index, context }));
  }

  private proposalRefusal(bytes: number): ProposeResult | undefined {
    if (this.role !== "leader") return { ok: false, error: "not-leader", leader: this.leader };
    if (this.leadTransferee !== NO_REPLICA) return { ok: false, error: "transfer-in-progress", leader: this.leader };
    if (bytes > this.config.messageBytesMax) return { ok: false, error: "too-large", leader: this.leader };
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes + 16 > this.config.uncommittedBytesMax) {
      return { ok: false, error: "uncommitted-limit", leader: this.leader };
    }
    return undefined;
  }

  private appendProposal(type: Entry["type"], data: Uint8Array): ProposeResult {
    const entry: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    this.appendLocal([entry]);
    this.uncommittedBytes += entryBytes(entry);
    this.broadcastPending = true;
    return { ok: true, index: entry.index, term: entry.term };
  }

  private appendLocal(entries: Entry[]): void {
    const last = this.log.append(entries);
    const self = this.progress.get(this.id);
    if (self !== undefined) self.maybeUpdate(last);
    this.maybeCommit();
  }

  /** Advances the commit index to what a quorum has; only entries of our own term count (Figure 8). */
  private maybeCommit(): boolean {
    let index = committedIndex(this.voters, (id) => this.progress.get(id)?.match ?? 0);
    if (this.config.bugs.commitWithoutQuorum === true) index = this.log.lastIndex();
    if (index <= this.log.committed) return false;
    if (this.config.bugs.commitPreviousTermByCounting !== true && this.log.term(index) !== this.term) return false;
    this.log.commitTo(index);
    this.onCommitAdvanced();
    return true;
  }

  private onCommitAdvanced(): void {
    if (this.readsAwaitingCommit.length === 0 || this.log.term(this.log.committed) !== this.term) return;
    const waiting = this.readsAwaitingCommit;
    this.readsAwaitingCommit = [];
    for (const read of waiting) this.leaderReadIndex(read.context, read.from);
  }

  private flushBroadcast(): void {
    if (!this.broadcastPending) return;
    this.broadcastPending = false;
    if (this.role === "leader") this.broadcastAppend();
  }

  /** Sends every follower what it lacks; `sendIfEmpty` also sends those lacking nothing, for the commit index. */
  private broadcastAppend(sendIfEmpty = true): void {
    this.broadcastPending = false;
    for (const id of this.progress.keys()) {
      if (id !== this.id) this.fillWindow(id, sendIfEmpty);
    }
  }

  /** Sends as many appends as the follower's window allows; an empty one only when asked (to carry the commit index). */
  private fillWindow(to: ReplicaId, sendIfEmpty: boolean): void {
    if (!this.sendAppend(to, sendIfEmpty)) return;
    const pr = this.progress.get(to);
    while (pr !== undefined && pr.state === "replicate" && pr.next <= this.log.lastIndex()) {
      if (!this.sendAppend(to, false)) return;
    }
  }

  private broadcastHeartbeat(context: string): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const commit = Math.min(pr.match, this.log.committed);
      pr.sentCommit = Math.max(pr.sentCommit, commit);
      this.send(
        message({
          type: "heartbeat",
          from: this.id,
          to: id,
          term: this.term,
          commit,
          context,
          logIndex: this.leaderTicks,
        }),
      );
    }
  }

  /** Sends one append (or a snapshot when the follower needs compacted entries); false if nothing was sent. */
  private sendAppend(to: ReplicaId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.entriesFrom(pr.next, this.config.messageBytesMax);
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send(
      message({
        type: "append",
        from: this.id,
        to,
        term: this.term,
        logIndex: prevIndex,
        logTerm: prevTerm,
        entries,
        commit: this.log.committed,
      }),
    );
    pr.sentCommit = Math.max(pr.sentCommit, Math.min(this.log.committed, prevIndex + entries.length));
    if (entries.length > 0) pr.sentEntries(entries[entries.length - 1].index);
    else if (pr.state === "probe") pr.probeSent = true;
    return true;
  }

  private sendSnapshot(to: ReplicaId, pr: Progress): boolean {
    // Only a replica that answers recently is worth a (large) snapshot.
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot();
    assert(snapshot.meta.index > 0, "need a snapshot but none exists");
    pr.becomeSnapshot(snapshot.meta.index);
    this.send(message({ type: "snapshot", from: this.id, to, term: this.term, snapshot }));
    return true;
  }

  private sendTimeoutNow(to: ReplicaId): void {
    this.leaseValidFromTicks = this.leaderTicks + 1;
    this.send(message({ type: "timeout-now", from: this.id, to, term: this.term }));
  }

  // ---------------------------------------------------------------- membership

  private isValidConfChange(change: ConfChange): boolean {
    const { replica } = change;
    switch (change.type) {
      case "add-voter":
        // Only bootstrap entries add voters directly; at run time a replica joins as a learner.
        return false;
      case "add-learner":
        return !this.voters.includes(replica) && !this.learners.includes(replica);
      case "promote-learner": {
        if (!this.learners.includes(replica)) return false;
        const pr = this.progress.get(replica);
        return pr !== undefined && pr.match + learnerCatchUpEntriesMax >= this.log.committed;
      }
      case "remove":
        if (this.voters.includes(replica)) return this.voters.length > 1;
        return this.learners.includes(replica);
      default:
        return assertNever(change, "conf change");
    }
  }

  private applyConfChangeEntry(entry: Entry): void {
    const change = decodeConfChange(entry.data);
    assert(change !== undefined, `undecodable conf change at ${entry.index}`);
    const voters = this.voters.filter((id) => id !== change.replica);
    const learners = this.learners.filter((id) => id !== change.replica);
    switch (change.type) {
      case "add-voter":
        voters.push(change.replica);
        break;
      case "add-learner":
        if (!this.voters.includes(change.replica)) learners.push(change.replica);
        else voters.push(change.replica);
        break;
      case "promote-learner":
        voters.push(change.replica);
        break;
      case "remove":
        break;
      default:
        assertNever(change, "conf change");
    }
    const wasLeader = this.role === "leader";
    this.applyConfState({ voters, learners });
    if (!wasLeader) return;
    if (!this.voters.includes(this.id)) {
      this.stepDownAfterRemoval();
      return;
    }
    if (this.leadTransferee !== NO_REPLICA && !this.voters.includes(this.leadTransferee))
      this.leadTransferee = NO_REPLICA;
    // A smaller quorum may commit more right away.
    if (this.maybeCommit()) this.broadcastAppend();
  }

  /** A removed leader hands over to its most up-to-date voter before stepping down, to save an election timeout. */
  private stepDownAfterRemoval(): void {
    let best: ReplicaId = NO_REPLICA;
    let bestMatch = -1;
    for (const id of this.voters) {
      const match = this.progress.get(id)?.match ?? 0;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    if (best !== NO_REPLICA && bestMatch === this.log.lastIndex()) this.sendTimeoutNow(best);
    this.becomeFollower(this.term, NO_REPLICA);
  }

  /** Installs a configuration, keeping (on the leader) the progress of replicas that stay. */
  private applyConfState(conf: ConfState): void {
    this.voters = [...conf.voters];
    this.learners = [...conf.learners];
    if (this.role !== "leader") return;
    const last = this.log.lastIndex();
    const next = new Map<ReplicaId, Progress>();
    for (const id of [...this.voters, ...this.learners]) {
      const isLearner = this.learners.includes(id);
      const existing = this.progress.get(id);
      if (existing !== undefined) {
        existing.isLearner = isLearner;
        next.set(id, existing);
      } else {
        next.set(id, this.newProgress(id, isLearner, last));
      }
    }
    this.progress = next;
  }

  private confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  // ---------------------------------------------------------------- plumbing

  private softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private send(m: Message): void {
    this.outbox.push(m);
  }

  private isWellFormed(m: Message): boolean {
    if (m.to !== this.id || m.from === NO_REPLICA || m.from === this.id) return false;
    if (!Number.isSafeInteger(m.term) || m.term < 0) return false;
    if (m.type === "snapshot" && m.snapshot === null) return false;
    for (let i = 0; i < m.entries.length; i++) {
      if (m.entries[i].index !== m.logIndex + 1 + i) return false;
    }
    return true;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
