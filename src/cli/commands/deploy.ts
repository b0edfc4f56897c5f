import { Option, type Command } from "commander";
import { DeployRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import { DeploymentSpec } from "../../gen/orchestrator/v1/types.js";
import { cpuArg, deploymentNameArg, memoryArg, regionListArg, replicasArg } from "../args.js";
import { CPU_FORMS, MEMORY_FORMS } from "../quantity.js";
import type { SessionFor } from "../session.js";
import { STRATEGY_BY_NAME, deploymentView, specOf } from "../views.js";
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
}

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

Deploying an existing name with a different spec rolls out a new version; an identical spec is a no-op.
`;

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
    .option("--wait", "wait until all replicas run (bounded by --timeout); fail with the pending reason otherwise");
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
        ...workloadFromFlags(flags),
      });
      const client = session.client;
      const response = await client.call("deploy", DeployRequest.fromPartial({ header: client.nextHeader(), spec }));
      const version = response.deployment?.version ?? 0;
      const verb = !response.created ? "unchanged" : version > 1 ? "configured" : "created";
      if (!session.out.isJson)
        session.out.text(`deployment ${name} ${verb} (version ${version}, revision ${response.revision})`);
      let deployment = response.deployment;
      if (flags.wait === true) {
        deployment = await waitUntilRunning(session, name);
        if (!session.out.isJson) session.out.text(`all ${specOf(deployment).replicas} replicas of ${name} are running`);
      }
      if (session.out.isJson) {
        session.out.json({
          created: response.created,
          revision: response.revision,
          ready: flags.wait === true ? true : undefined,
          deployment: deployment === undefined ? null : deploymentView(deployment),
        });
      }
    });
}
