import { Option, type Command } from "commander";
import { DeployRequest, DeployResult } from "../../gen/orchestrator/v1/orchestrator.js";
import { DeploymentSpec, type UpdatePolicy } from "../../gen/orchestrator/v1/types.js";
import { countArg, cpuArg, deploymentNameArg, durationMsArg, memoryArg, regionListArg, replicasArg } from "../args.js";
import { CPU_FORMS, MEMORY_FORMS } from "../quantity.js";
import type { SessionFor } from "../session.js";
import { STRATEGY_BY_NAME, deploymentView, specOf } from "../views.js";
import { followRollout } from "../rollout/follow-rollout.js";
import { waitUntilRunning } from "../wait.js";
import { addWorkloadFlags, workloadFromFlags, type WorkloadFlags } from "./workload-flags.js";

interface DeployFlags extends WorkloadFlags {
  readonly image: string;
  readonly replicas: number;
  readonly cpu: number;
  readonly memory: number;
  readonly strategy: string;
  readonly regions?: string[];
  readonly clientRegions?: string[];
  readonly onePerNode?: boolean;
  readonly wait?: boolean;
  readonly maxParallel?: number;
  readonly maxSurge?: number;
  readonly minHealthyTime?: number;
  readonly healthyDeadline?: number;
  readonly progressDeadline?: number;
  readonly canary?: number;
  readonly autoRevert?: boolean;
  readonly maxUnavailable?: number;
  readonly force?: boolean;
}

/** What the deploy did, as the server says it. */
const RESULT_WORDS: Readonly<Record<number, string>> = {
  [DeployResult.DEPLOY_RESULT_CREATED]: "created",
  [DeployResult.DEPLOY_RESULT_CONFIGURED]: "configured",
  [DeployResult.DEPLOY_RESULT_SCALED]: "scaled",
  [DeployResult.DEPLOY_RESULT_UNCHANGED]: "unchanged",
};

/** Defaults when a flag is left out (the proto's zero would mean "nothing" rather than "small"). */
const REPLICAS_DEFAULT = 1;
const CPU_MILLICORES_DEFAULT = 100;
const MEMORY_MIB_DEFAULT = 128;

const EXAMPLES = `
Examples:
  orchctl deploy web --image nginx:latest --replicas 3 --cpu 500m --memory 256Mi
  orchctl deploy api --image ghcr.io/acme/api:1.4 --replicas 6 --strategy spread --regions us-east-1,eu-west-1 --wait
  orchctl deploy edge --image acme/edge:2 --strategy latency --client-regions ap-southeast-1 --one-per-node
  orchctl deploy hello --image hello-http:1 --replicas 3 --command /bin/sh --arg -c \
    --arg 'exec httpd -f -p "$PORT" -h /www' --port http=8080 --health-port http --env GREETING=hi

An existing deployment is updated, never refused: a different spec (image, resources, placement,
update policy) creates a new version and rolls it out, health-gated, --max-parallel replicas at a
time (--canary N first starts N beside the old ones and waits for \`orchctl rollout promote\`); a
different --replicas alone scales; an identical spec is a no-op. The result says which: created,
configured, scaled or unchanged. Without policy flags the deployment keeps its current update
policy. --wait follows the rollout (as \`orchctl rollout status\`) when the deploy started one.
Undo a version with \`orchctl rollout undo NAME\`.
  orchctl deploy web --image nginx:1.28 --replicas 3 --max-parallel 1 --max-surge 1 --min-healthy-time 10s
  orchctl deploy web --image nginx:1.29 --replicas 3 --canary 1
`;

/** The update policy the flags ask for; none when no policy flag is given (the server's defaults). */
function updatePolicyOf(flags: DeployFlags): UpdatePolicy | undefined {
  const given = [
    flags.maxParallel,
    flags.maxSurge,
    flags.minHealthyTime,
    flags.healthyDeadline,
    flags.progressDeadline,
    flags.canary,
    flags.autoRevert,
  ].some((value) => value !== undefined);
  if (!given) return undefined;
  return {
    maxParallel: flags.maxParallel ?? 0,
    healthyDeadlineMs: flags.healthyDeadline ?? 0,
    progressDeadlineMs: flags.progressDeadline ?? 0,
    canary: flags.canary ?? 0,
    ...(flags.maxSurge !== undefined ? { maxSurge: flags.maxSurge } : {}),
    ...(flags.minHealthyTime !== undefined ? { minHealthyTimeMs: flags.minHealthyTime } : {}),
    ...(flags.autoRevert !== undefined ? { autoRevert: flags.autoRevert } : {}),
  };
}

export function registerDeploy(parent: Command, sessionFor: SessionFor): void {
  const deploy = parent
    .command("deploy")
    .description("create or update a deployment")
    .argument("<name>", "deployment name (DNS label: a-z, 0-9, '-')", deploymentNameArg)
    .requiredOption("--image <image>", "container image, e.g. nginx:latest")
    .addOption(new Option("--replicas <n>", "number of replicas").argParser(replicasArg).default(REPLICAS_DEFAULT))
    .addOption(
      new Option("--cpu <quantity>", `CPU per replica: ${CPU_FORMS}`)
        .argParser(cpuArg)
        .default(CPU_MILLICORES_DEFAULT, "100m"),
    )
    .addOption(
      new Option("--memory <quantity>", `memory per replica: ${MEMORY_FORMS}`)
        .argParser(memoryArg)
        .default(MEMORY_MIB_DEFAULT, "128Mi"),
    )
    .addOption(
      new Option("--strategy <strategy>", "placement strategy")
        .choices(Object.keys(STRATEGY_BY_NAME))
        .default("binpack"),
    )
    .addOption(
      new Option("--regions <regions>", "only place replicas in these regions (comma-separated)").argParser(
        regionListArg,
      ),
    )
    .addOption(
      new Option(
        "--client-regions <regions>",
        "where the clients are, for --strategy latency (comma-separated)",
      ).argParser(regionListArg),
    )
    .option("--one-per-node", "at most one replica of this deployment per node")
    .option(
      "--wait",
      "wait until all replicas run, or follow the rollout the deploy started until it ends (bounded by --timeout)",
    )
    .addOption(new Option("--max-parallel <n>", "replicas replaced at once (default 1)").argParser(countArg))
    .addOption(new Option("--max-surge <n>", "extra replicas allowed during a rollout (default 1)").argParser(countArg))
    .addOption(
      new Option(
        "--min-healthy-time <duration>",
        "a new replica counts after staying healthy this long (default 5s)",
      ).argParser(durationMsArg),
    )
    .addOption(
      new Option("--healthy-deadline <duration>", "a new replica must count within this long (default 1m)").argParser(
        durationMsArg,
      ),
    )
    .addOption(
      new Option(
        "--progress-deadline <duration>",
        "a rollout fails after this long without progress (default 10m)",
      ).argParser(durationMsArg),
    )
    .addOption(
      new Option(
        "--max-unavailable <n>",
        "disruption budget: a node drain keeps at least replicas - N healthy (default 1)",
      ).argParser(countArg),
    )
    .addOption(
      new Option("--canary <n>", "new replicas started beside the old ones before promotion (default 0)").argParser(
        countArg,
      ),
    )
    .option("--auto-revert", "on failure, go back to the last version that rolled out (the default)")
    .option("--no-auto-revert", "on failure, stop the rollout and say why")
    .option("--force", "start a new version even when the cluster's error budget is spent");
  addWorkloadFlags(deploy)
    .addHelpText("after", EXAMPLES)
    .action(async (name: string, flags: DeployFlags, command: Command) => {
      const session = sessionFor(command);
      const spec = DeploymentSpec.fromPartial({
        name,
        image: flags.image,
        replicas: flags.replicas,
        cpuMillicores: flags.cpu,
        memoryMib: flags.memory,
        strategy: STRATEGY_BY_NAME[flags.strategy],
        regions: flags.regions ?? [],
        clientRegions: flags.clientRegions ?? [],
        onePerNode: flags.onePerNode === true,
        update: updatePolicyOf(flags),
        ...(flags.maxUnavailable !== undefined ? { maxUnavailable: flags.maxUnavailable } : {}),
        ...workloadFromFlags(flags),
      });
      const client = session.client;
      const response = await client.call(
        "deploy",
        DeployRequest.fromPartial({ header: client.nextHeader(), spec, force: flags.force === true }),
      );
      const version = response.version ?? response.deployment?.version ?? 0;
      // An older server says only whether it created the deployment.
      const verb = RESULT_WORDS[response.result ?? 0] ?? (response.created ? "created" : "unchanged");
      if (!session.out.isJson)
        session.out.text(`deployment ${name} ${verb} (version ${version}, revision ${response.revision})`);
      let deployment = response.deployment;
      let rollout: string | undefined;
      if (flags.wait === true && response.result === DeployResult.DEPLOY_RESULT_CONFIGURED) {
        const end = await followRollout(session, name, version);
        deployment = end.deployment;
        rollout = end.state;
        if (!session.out.isJson) session.out.text(end.message);
      } else if (flags.wait === true) {
        deployment = await waitUntilRunning(session, name);
        if (!session.out.isJson) session.out.text(`all ${specOf(deployment).replicas} replicas of ${name} are running`);
      }
      if (session.out.isJson) {
        session.out.json({
          created: response.created,
          result: verb,
          revision: response.revision,
          ready: flags.wait === true ? true : undefined,
          rollout,
          deployment: deployment === undefined ? null : deploymentView(deployment),
        });
      }
    });
}
