import { Gauge, type Registry } from "prom-client";
import type { LeadershipSignal, MembershipPort } from "../../fsm/index.js";
import { assertNever } from "../../lib/assert.js";
import type { CancelTimer, Clock } from "../../lib/clock.js";
import type { Logger } from "../../lib/logger.js";
import { decideAutopilot, type AutopilotAction, type AutopilotConfig } from "../core/autopilot.js";

/** How often the leader looks at its members again. */
export const memberControllerTickMs = 500;

export interface MemberControllerOptions extends AutopilotConfig {
  /** Where this replica really listens: its record in the address table is kept at these. */
  readonly selfAddresses: { readonly raft: string; readonly api: string };
}

/**
 * The leader's membership controller: keeps the address table complete (founding members the
 * table never named, its own record), promotes a caught-up learner, reports voters that stopped
 * answering (orchestrator_raft_member_unreachable) and, when asked to, removes a dead voter once
 * enough voters remain. Decisions come from the pure core (decideAutopilot); one change at a
 * time, each through the membership port, and a failed one is decided again on the next tick.
 */
export class MemberController {
  private cancelTick: CancelTimer | null = null;
  private leadingSinceMs = 0;
  private busy = false;
  private readonly unreachable: Gauge<"member">;
  private readonly reported = new Set<string>();
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly leadership: LeadershipSignal,
    private readonly clock: Clock,
    private readonly membership: MembershipPort,
    private readonly options: MemberControllerOptions,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.unreachable = new Gauge({
      name: "orchestrator_raft_member_unreachable",
      help: "1 while a voter has not answered the leader for --autopilot-dead-after (reported by the leader only)",
      labelNames: ["member"],
      registers: [registry],
    });
  }

  start(): void {
    this.unsubscribe = this.leadership.onChange((change) => {
      if (change.kind === "leading") this.activate();
      else this.deactivate();
    });
    if (this.leadership.isLeader()) this.activate();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.deactivate();
  }

  private activate(): void {
    if (this.cancelTick !== null) return;
    this.leadingSinceMs = this.clock.nowMs();
    this.cancelTick = this.clock.setRepeating(memberControllerTickMs, () => void this.tick());
    void this.tick();
  }

  private deactivate(): void {
    this.cancelTick?.();
    this.cancelTick = null;
    // Only the leader knows who answers: a follower reports nobody.
    this.unreachable.reset();
    this.reported.clear();
  }

  private async tick(): Promise<void> {
    if (this.busy || this.cancelTick === null) return;
    const view = this.membership.view();
    if (view === null) return;
    const decision = decideAutopilot(
      view,
      this.options.selfAddresses,
      this.clock.nowMs() - this.leadingSinceMs,
      this.options,
    );
    this.report(
      view.members.filter((m) => m.suffrage === "voter").map((m) => m.id),
      decision.deadVoters,
    );
    if (decision.action === null) return;
    this.busy = true;
    try {
      await this.act(decision.action);
    } finally {
      this.busy = false;
    }
  }

  private report(voters: readonly string[], dead: readonly string[]): void {
    this.unreachable.reset();
    for (const id of voters) this.unreachable.set({ member: id }, dead.includes(id) ? 1 : 0);
    for (const id of dead)
      if (!this.reported.has(id))
        this.logger.warn({ member: id, deadAfterMs: this.options.deadAfterMs }, "voter unreachable");
    this.reported.clear();
    for (const id of dead) this.reported.add(id);
  }

  private async act(action: AutopilotAction): Promise<void> {
    let outcome;
    switch (action.kind) {
      case "record":
        outcome = await this.membership.record(action.id, action.raftAddress, action.apiAddress);
        break;
      case "promote":
        outcome = await this.membership.promote(action.id);
        break;
      case "remove":
        outcome = await this.membership.remove(action.id);
        break;
      default:
        return assertNever(action, "autopilot action");
    }
    if (outcome.ok) this.logger.info({ action }, `autopilot: ${action.kind} ${action.id}`);
    else this.logger.warn({ action, err: outcome.error.message }, `autopilot: ${action.kind} ${action.id} failed`);
  }
}
