import type { Command } from "commander";
import { GetSloRequest, type GetSloResponse, type SloWindow } from "../../gen/orchestrator/v1/orchestrator.js";
import type { DeploymentOperation } from "../../gen/orchestrator/v1/types.js";
import { formatAge, indent, orDash, renderFields, renderTable } from "../output.js";
import type { SessionFor } from "../session.js";

const EXAMPLES = `
Examples:
  orchctl slo
  orchctl slo --output json
  orchctl slo --stale --endpoints 127.0.0.1:50052    # as one particular replica sees it

A deployment operation (deploy, scale, replacement after a failure) succeeds when all its desired
replicas are healthy before its progress deadline. SUCCESS-RATIO is succeeded / finished in the
window ("-" when none finished); BURN-RATE is the error ratio over the error budget (1 - objective):
1 spends the 30-day budget in exactly 30 days, 14.4 spends 2% of it in one hour.
`;

/** Recent outcomes shown in the table (--output json has all the server returned). */
const recentOutcomesShownMax = 10;

/** 0.9999 -> "99.99%", 1 -> "100%"; never rounds a ratio below 1 up to "100%". */
export function formatPercent(ratio: number): string {
  let text = (ratio * 100).toFixed(4).replace(/\.?0+$/, "");
  if (text === "100" && ratio < 1) text = "99.9999";
  return `${text}%`;
}

/** Allowed failures: at most two decimals ("1", "14.4"), two significant digits below 1 ("0.0002"). */
export function formatCount(value: number): string {
  if (value > 0 && value < 1) return String(Number(value.toPrecision(2)));
  return String(Number(value.toFixed(2)));
}

function windowRow(window: SloWindow): string[] {
  const finished = window.succeeded + window.failed;
  return [
    window.name,
    String(window.succeeded),
    String(window.failed),
    finished === 0 ? "-" : formatPercent(window.successRatio),
    finished === 0 ? "-" : window.burnRate.toFixed(2),
  ];
}

/** "in 42s" before the deadline, "overdue 3s" after it (in formatAge's units). */
function deadlineIn(deadlineAtMs: number, nowMs: number): string {
  if (deadlineAtMs <= 0) return "-";
  const span = formatAge(1, 1 + Math.abs(deadlineAtMs - nowMs));
  return deadlineAtMs >= nowMs ? `in ${span}` : `overdue ${span}`;
}

export function renderSlo(slo: GetSloResponse): string {
  const nowMs = slo.nowMs;
  const budget =
    `${formatPercent(slo.errorBudgetRemainingRatio)} remaining ` +
    `(${slo.errorBudgetFailed} of ${formatCount(slo.errorBudgetAllowedFailures)} allowed failures spent over 30d)`;
  const parts: string[] = [];
  parts.push(
    renderFields([
      ["Objective", `${formatPercent(slo.objective)} of deployment operations succeed`],
      ["Error budget", budget],
      [
        "Answered by",
        `${orDash(slo.replicaId)} at ${nowMs > 0 ? new Date(nowMs).toISOString() : "-"} (revision ${slo.revision})`,
      ],
    ]),
  );
  parts.push(
    `\n${renderTable(["WINDOW", "SUCCEEDED", "FAILED", "SUCCESS-RATIO", "BURN-RATE"], slo.windows.map(windowRow))}`,
  );
  parts.push("\nOpen operations:\n");
  const open = slo.openOperations.map((op) => [
    op.deployment,
    op.id,
    op.kind,
    formatAge(op.startedAtMs, nowMs),
    deadlineIn(op.deadlineAtMs, nowMs),
  ]);
  parts.push(
    open.length === 0
      ? "  <none>\n"
      : indent(renderTable(["DEPLOYMENT", "OPERATION", "KIND", "AGE", "DEADLINE"], open)),
  );
  parts.push("\nRecent outcomes:\n");
  const recent = slo.recentOutcomes
    .filter((o): o is typeof o & { lastOutcome: DeploymentOperation } => o.lastOutcome !== undefined)
    .slice(0, recentOutcomesShownMax)
    .map(({ deployment, lastOutcome: op }) => [
      deployment,
      op.id,
      op.kind,
      op.succeeded ? "succeeded" : "failed",
      formatAge(op.finishedAtMs, nowMs),
      orDash(op.reason),
    ]);
  parts.push(
    recent.length === 0
      ? "  <none>\n"
      : indent(renderTable(["DEPLOYMENT", "OPERATION", "KIND", "RESULT", "FINISHED", "REASON"], recent)),
  );
  const more = slo.recentOutcomesTotal - recent.length;
  if (recent.length > 0 && more > 0) parts.push(`  (${more} more; use --output json)\n`);
  return parts.join("");
}

function operationView(op: DeploymentOperation) {
  return {
    id: op.id,
    kind: op.kind,
    succeeded: op.succeeded,
    reason: op.reason,
    startedAtMs: op.startedAtMs,
    deadlineAtMs: op.deadlineAtMs,
    finishedAtMs: op.finishedAtMs,
  };
}

/** The JSON shape scripts read; it changes only by adding fields. */
export function sloView(slo: GetSloResponse) {
  return {
    objective: slo.objective,
    replicaId: slo.replicaId,
    revision: slo.revision,
    nowMs: slo.nowMs,
    at: slo.nowMs > 0 ? new Date(slo.nowMs).toISOString() : null,
    windows: slo.windows.map((w) => ({
      window: w.name,
      minutes: w.minutes,
      succeeded: w.succeeded,
      failed: w.failed,
      successRatio: w.successRatio,
      burnRate: w.burnRate,
    })),
    errorBudget: {
      remainingRatio: slo.errorBudgetRemainingRatio,
      consumedRatio: slo.errorBudgetConsumedRatio,
      allowedFailures: slo.errorBudgetAllowedFailures,
      failed: slo.errorBudgetFailed,
    },
    openOperations: slo.openOperations.map((op) => ({ ...op })),
    recentOutcomes: slo.recentOutcomes.flatMap((o) =>
      o.lastOutcome === undefined ? [] : [{ deployment: o.deployment, ...operationView(o.lastOutcome) }],
    ),
    recentOutcomesTotal: slo.recentOutcomesTotal,
  };
}

export function registerSlo(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("slo")
    .description(
      "deployment success rate against the 99.99% objective: windows, burn rates, error budget, open operations",
    )
    .option("--stale", "answer from the contacted replica's local state (faster, may lag)")
    .addHelpText("after", EXAMPLES)
    .action(async (flags: { stale?: boolean }, command: Command) => {
      const session = sessionFor(command);
      const response = await session.client.call("getSlo", GetSloRequest.fromPartial({ stale: flags.stale === true }));
      if (session.out.isJson) session.out.json(sloView(response));
      else session.out.text(renderSlo(response));
    });
}
