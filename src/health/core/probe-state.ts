import { assert, assertNever } from "../../lib/assert.js";

/**
 * The probe state machine of one container, Kubernetes-like: after an initial delay the prober
 * sends one probe per period; `successThreshold` consecutive successes make the container
 * healthy, `failureThreshold` consecutive failures (a timeout is a failure) make it unhealthy.
 *
 * A third verdict, "unknown", is what the leader says when it cannot reach the container's node
 * (the node's breaker is open). Silence from a dead or partitioned node is not evidence against
 * the container, so it never counts as a failure: the counters are cleared, and once the node is
 * reachable again the container needs a full threshold of fresh results for a new verdict. That
 * is the conservative choice: a partition never turns into a restart by itself.
 *
 * Pure: time enters only as `nowMs`; the state is a plain immutable value, and `stepProbe` is
 * the one transition function. An event the current phase cannot take is a bug and asserts.
 */

export type ProbeVerdict = "healthy" | "unhealthy" | "unknown";
export type ProbeResult = "success" | "failure" | "timeout";

/** The same fields as the FSM's HealthCheckSpec (without its path), already validated there. */
export interface ProbeConfig {
  /** From the start of one probe to the start of the next. */
  readonly periodMs: number;
  /** A probe not answered this long after it was sent counts as a timeout. Invariant: <= periodMs. */
  readonly timeoutMs: number;
  /** Consecutive failures that make the verdict unhealthy. */
  readonly failureThreshold: number;
  /** Consecutive successes that make the verdict healthy. */
  readonly successThreshold: number;
  /** From the container's start to its first probe. */
  readonly initialDelayMs: number;
}

/**
 * Kubernetes' defaults (10 s period, 1 s timeout, 3 failures, 1 success) scaled for the demo.
 * Equal to the FSM's deploymentDefaults.healthCheck (a test checks it): the FSM fills unset spec
 * fields with those, so these are what a deployment without a health-check spec gets.
 */
export const probeDefaults: ProbeConfig = Object.freeze({
  periodMs: 2_000,
  timeoutMs: 1_000,
  failureThreshold: 3,
  successThreshold: 1,
  initialDelayMs: 0,
});

/** Where the prober stands with the container. */
export type ProbePhase =
  /** No probe outstanding; the next may be sent at nextProbeAtMs (the initial delay, then the period). */
  | { readonly kind: "waiting"; readonly nextProbeAtMs: number }
  /** Probe number `seq` was sent at sentAtMs; an answer after deadlineMs is a timeout. */
  | { readonly kind: "in-flight"; readonly seq: number; readonly sentAtMs: number; readonly deadlineMs: number }
  /** The node's breaker is open: nothing is sent, nothing is concluded. */
  | { readonly kind: "unreachable"; readonly sinceMs: number };

export interface ProbeState {
  readonly config: ProbeConfig;
  readonly phase: ProbePhase;
  /** Invariant: "unknown" while unreachable. */
  readonly verdict: ProbeVerdict;
  /** Invariant: at most one of the two counters is non-zero. */
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  /** Probes sent so far; a probe is numbered by this count when it is sent. */
  readonly probesSent: number;
  /**
   * The highest probe number abandoned in flight when the node became unreachable (0: none).
   * Answers to probes numbered up to it arrive late and are ignored. Invariant: <= probesSent.
   */
  readonly abandonedSeq: number;
  /** The latest event time seen. Invariant: events never go back in time. */
  readonly lastEventMs: number;
}

export type ProbeEvent =
  /** The prober sends the next probe; legal only when one is due. */
  | { readonly kind: "send"; readonly nowMs: number }
  /** The answer to probe number `seq` (the io prober reports a timeout itself when it gives up). */
  | { readonly kind: "result"; readonly seq: number; readonly result: ProbeResult; readonly nowMs: number }
  /** The node's breaker opened. */
  | { readonly kind: "node-unreachable"; readonly nowMs: number }
  /** The node's breaker closed again (or let a trial through). */
  | { readonly kind: "node-reachable"; readonly nowMs: number };

export interface VerdictTransition {
  readonly from: ProbeVerdict;
  readonly to: ProbeVerdict;
  /** A sentence for the log and the event ring. */
  readonly reason: string;
}

export interface ProbeStep {
  readonly state: ProbeState;
  /** Set when the verdict changed: the io layer reports it (and a restart may follow). */
  readonly transition: VerdictTransition | null;
  /** The event was the late answer of an abandoned probe and changed nothing. */
  readonly stale: boolean;
}

export function assertProbeConfig(config: ProbeConfig): void {
  assert(Number.isInteger(config.periodMs) && config.periodMs > 0, "probe period must be a positive integer of ms");
  assert(Number.isInteger(config.timeoutMs) && config.timeoutMs > 0, "probe timeout must be a positive integer of ms");
  assert(config.timeoutMs <= config.periodMs, "probe timeout must fit in its period");
  assert(
    Number.isInteger(config.failureThreshold) && config.failureThreshold >= 1,
    "failure threshold must be at least 1",
  );
  assert(
    Number.isInteger(config.successThreshold) && config.successThreshold >= 1,
    "success threshold must be at least 1",
  );
  assert(
    Number.isInteger(config.initialDelayMs) && config.initialDelayMs >= 0,
    "initial delay must be a non-negative integer of ms",
  );
}

/** The state of a container that started at startedAtMs: verdict unknown, first probe after the initial delay. */
export function startProbing(config: ProbeConfig, startedAtMs: number): ProbeState {
  assertProbeConfig(config);
  assert(Number.isFinite(startedAtMs), "start time must be finite");
  const state: ProbeState = {
    config,
    phase: { kind: "waiting", nextProbeAtMs: startedAtMs + config.initialDelayMs },
    verdict: "unknown",
    consecutiveSuccesses: 0,
    consecutiveFailures: 0,
    probesSent: 0,
    abandonedSeq: 0,
    lastEventMs: startedAtMs,
  };
  checkProbeInvariants(state);
  return state;
}

/** The one transition function. */
export function stepProbe(state: ProbeState, event: ProbeEvent): ProbeStep {
  assert(Number.isFinite(event.nowMs), "event time must be finite");
  assert(event.nowMs >= state.lastEventMs, "probe events must not go back in time");
  const at = { ...state, lastEventMs: event.nowMs };
  let step: ProbeStep;
  switch (event.kind) {
    case "send":
      step = send(at, event.nowMs);
      break;
    case "result":
      step = settle(at, event.seq, event.result, event.nowMs);
      break;
    case "node-unreachable":
      step = becomeUnreachable(at, event.nowMs);
      break;
    case "node-reachable":
      step = becomeReachable(at, event.nowMs);
      break;
    default:
      assertNever(event, "probe event");
  }
  checkProbeInvariants(step.state);
  return step;
}

/** When the next probe may be sent; null while one is in flight or the node is unreachable. */
export function nextProbeAtMs(state: ProbeState): number | null {
  return state.phase.kind === "waiting" ? state.phase.nextProbeAtMs : null;
}

export function probeDue(state: ProbeState, nowMs: number): boolean {
  const at = nextProbeAtMs(state);
  return at !== null && nowMs >= at;
}

/** The number of the probe in flight, for the io prober to quote in its result. */
export function inFlightSeq(state: ProbeState): number {
  assert(state.phase.kind === "in-flight", "no probe in flight");
  return state.phase.seq;
}

function send(state: ProbeState, nowMs: number): ProbeStep {
  const phase = state.phase;
  assert(phase.kind === "waiting", `cannot send a probe while ${phase.kind}`);
  assert(nowMs >= phase.nextProbeAtMs, "probe sent before it was due");
  const seq = state.probesSent + 1;
  return unchanged({
    ...state,
    probesSent: seq,
    phase: { kind: "in-flight", seq, sentAtMs: nowMs, deadlineMs: nowMs + state.config.timeoutMs },
  });
}

function settle(state: ProbeState, seq: number, result: ProbeResult, nowMs: number): ProbeStep {
  const phase = state.phase;
  assert(Number.isInteger(seq) && seq >= 1 && seq <= state.probesSent, "result for a probe never sent");
  if (phase.kind !== "in-flight" || phase.seq !== seq) {
    // Only an answer to a probe abandoned at an unreachable node may arrive out of turn.
    assert(seq <= state.abandonedSeq, "result for a probe that is not in flight");
    return { state, transition: null, stale: true };
  }
  // A success after the deadline is a timeout, as Kubernetes counts it: the period stays honest.
  const effective: ProbeResult = result === "success" && nowMs > phase.deadlineMs ? "timeout" : result;
  const counted = count(state, effective);
  return {
    state: {
      ...counted.state,
      phase: { kind: "waiting", nextProbeAtMs: Math.max(phase.sentAtMs + state.config.periodMs, nowMs) },
    },
    transition: counted.transition,
    stale: false,
  };
}

function count(state: ProbeState, result: ProbeResult): { state: ProbeState; transition: VerdictTransition | null } {
  const ok = result === "success";
  const successes = ok ? state.consecutiveSuccesses + 1 : 0;
  const failures = ok ? 0 : state.consecutiveFailures + 1;
  const { successThreshold, failureThreshold } = state.config;
  let verdict = state.verdict;
  let reason = "";
  if (ok && successes >= successThreshold && verdict !== "healthy") {
    verdict = "healthy";
    reason = `${successes} consecutive successful probe(s) (success threshold ${successThreshold})`;
  } else if (!ok && failures >= failureThreshold && verdict !== "unhealthy") {
    verdict = "unhealthy";
    reason = `${failures} consecutive failed probe(s) (failure threshold ${failureThreshold}), the last a ${result}`;
  }
  const next = { ...state, verdict, consecutiveSuccesses: successes, consecutiveFailures: failures };
  return { state: next, transition: verdict === state.verdict ? null : { from: state.verdict, to: verdict, reason } };
}

function becomeUnreachable(state: ProbeState, nowMs: number): ProbeStep {
  const phase = state.phase;
  assert(phase.kind !== "unreachable", "node already unreachable");
  const abandonedSeq = phase.kind === "in-flight" ? phase.seq : state.abandonedSeq;
  const next: ProbeState = {
    ...state,
    phase: { kind: "unreachable", sinceMs: nowMs },
    verdict: "unknown",
    consecutiveSuccesses: 0,
    consecutiveFailures: 0,
    abandonedSeq,
  };
  const transition: VerdictTransition | null =
    state.verdict === "unknown"
      ? null
      : {
          from: state.verdict,
          to: "unknown",
          reason: "node unreachable (breaker open): no verdict until it answers again",
        };
  return { state: next, transition, stale: false };
}

function becomeReachable(state: ProbeState, nowMs: number): ProbeStep {
  assert(state.phase.kind === "unreachable", `node-reachable while ${state.phase.kind}`);
  // Probe at once: the verdict has been unknown long enough.
  return unchanged({ ...state, phase: { kind: "waiting", nextProbeAtMs: nowMs } });
}

function unchanged(state: ProbeState): ProbeStep {
  return { state, transition: null, stale: false };
}

/** The invariants of a probe state; called after every step. */
export function checkProbeInvariants(state: ProbeState): void {
  const { phase, config } = state;
  assert(
    state.consecutiveSuccesses === 0 || state.consecutiveFailures === 0,
    "successes and failures cannot both be running",
  );
  assert(state.abandonedSeq <= state.probesSent, "abandoned a probe never sent");
  if (phase.kind === "in-flight") assert(phase.seq === state.probesSent, "the probe in flight is the latest sent");
  if (phase.kind === "in-flight")
    assert(phase.deadlineMs === phase.sentAtMs + config.timeoutMs, "deadline is send time plus timeout");
  if (phase.kind === "unreachable")
    assert(state.verdict === "unknown", "an unreachable node's container has no verdict");
  if (phase.kind === "unreachable")
    assert(state.consecutiveSuccesses + state.consecutiveFailures === 0, "nothing is counted while unreachable");
  if (state.verdict === "unknown")
    assert(state.consecutiveSuccesses < config.successThreshold, "enough successes make a verdict");
  if (state.verdict === "unknown")
    assert(state.consecutiveFailures < config.failureThreshold, "enough failures make a verdict");
  if (state.verdict === "healthy")
    assert(state.consecutiveFailures < config.failureThreshold, "enough failures end health");
  if (state.verdict === "unhealthy")
    assert(state.consecutiveSuccesses < config.successThreshold, "enough successes end ill health");
}
