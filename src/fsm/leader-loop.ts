import type { CancelTimer } from "../lib/clock.js";
import type { Logger } from "../lib/logger.js";
import type { StateChange } from "./cluster-state.js";
import type { ControllerPorts } from "./controller-ports.js";

/** What a controller run by a LeaderLoop does at each point of its life. */
export interface LeaderLoopHooks {
  /** Names it in the log ("rollout controller active"). */
  readonly name: string;
  /** How often everything is decided again (waits end on time, not on a change). */
  readonly tickMs: number;
  /** Every applied change, on followers too (so it tracks what it will decide once it leads). */
  onChange(change: StateChange): void;
  /** Rebuilds what may need deciding from the state: at start, after a restore, on leading. */
  seed(): void;
  /** Decides everything it tracks (only while leading). */
  tick(): void;
  /** Leading from now on: forget the previous term's proposals. */
  onActivate(): void;
  /** Not leading any more: cancel batches and timers of its own. */
  onDeactivate(): void;
  /** Fields of the "active" log line (e.g. how many rollouts it found). */
  activeFields(): Record<string, unknown>;
}

/**
 * The lifecycle every leader controller shares: it listens to the state's changes and restores
 * and to leadership; while this replica leads after its barrier, it decides on a repeating tick
 * and once at once. Decisions go through the log, so a controller holds nothing a new leader
 * would need: deactivating only cancels timers.
 */
export class LeaderLoop {
  private active = false;
  private cancelTick: CancelTimer | null = null;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly ports: Pick<ControllerPorts, "state" | "leadership" | "clock">,
    private readonly logger: Logger,
    private readonly hooks: LeaderLoopHooks,
  ) {}

  /** Whether it leads and decides now. */
  get isActive(): boolean {
    return this.active;
  }

  start(): void {
    const { state, leadership } = this.ports;
    this.unsubscribe.push(
      state.onChange((change) => this.hooks.onChange(change)),
      state.onRestore(() => this.hooks.seed()),
      leadership.onChange((change) => (change.kind === "leading" ? this.activate() : this.deactivate())),
    );
    this.hooks.seed();
    if (leadership.isLeader()) this.activate();
  }

  /** Stops listening and deciding; proposals in flight still finish. */
  stop(): void {
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    this.deactivate();
  }

  private activate(): void {
    if (this.active) return;
    this.active = true;
    this.hooks.onActivate();
    this.hooks.seed();
    this.cancelTick = this.ports.clock.setRepeating(this.hooks.tickMs, () => this.hooks.tick());
    this.logger.info(
      { term: this.ports.leadership.term(), role: "leader", ...this.hooks.activeFields() },
      `${this.hooks.name} controller active`,
    );
    // The first decisions at once, but outside the leadership listener (it runs as an entry is applied).
    setImmediate(() => {
      if (this.active) this.hooks.tick();
    });
  }

  private deactivate(): void {
    this.active = false;
    this.cancelTick?.();
    this.cancelTick = null;
    this.hooks.onDeactivate();
  }
}
