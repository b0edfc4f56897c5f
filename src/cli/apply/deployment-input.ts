/**
 * A deployment as a file (or flags) describe it, in the cluster's units, before the server fills
 * in its defaults and validates it. Absent optional fields take the server's defaults.
 */
export interface DeploymentInput {
  readonly name: string;
  readonly image: string;
  readonly replicas: number;
  readonly cpuMillicores: number;
  readonly memoryMib: number;
  readonly strategy: "binpack" | "spread" | "latency";
  readonly regions: readonly string[];
  readonly clientRegions: readonly string[];
  readonly onePerNode: boolean;
  readonly healthCheck?: HealthCheckInput;
  readonly restartPolicy?: RestartPolicyInput;
  readonly progressDeadlineMs?: number;
  readonly update?: UpdatePolicyInput;
  /** Disruption budget: a drain keeps at least replicas - maxUnavailable healthy (absent: the current one, or 1). */
  readonly maxUnavailable?: number | undefined;
  /** What a real runtime runs (the Docker driver); absent: the image's own command, no ports. */
  readonly workload?: WorkloadInput;
}

export interface WorkloadInput {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: readonly { readonly name: string; readonly value: string }[];
  readonly ports: readonly { readonly name: string; readonly containerPort: number }[];
}

export interface HealthCheckInput {
  readonly path?: string;
  readonly periodMs?: number;
  readonly timeoutMs?: number;
  readonly failureThreshold?: number;
  readonly successThreshold?: number;
  readonly initialDelayMs?: number;
  /** The named port the probe goes to (real containers). */
  readonly port?: string;
}

export interface RestartPolicyInput {
  readonly initialDelayMs?: number;
  readonly factor?: number;
  readonly maxDelayMs?: number;
  readonly resetAfterMs?: number;
}

/** How a new version replaces the old one (Nomad's update block). */
export interface UpdatePolicyInput {
  readonly maxParallel?: number;
  readonly maxSurge?: number;
  readonly minHealthyTimeMs?: number;
  readonly healthyDeadlineMs?: number;
  readonly progressDeadlineMs?: number;
  readonly canary?: number;
  readonly autoRevert?: boolean;
}

/** What orchctl uses when a deployment leaves these out (the proto's zero would mean "nothing"). */
export const deploymentInputDefaults = {
  replicas: 1,
  cpuMillicores: 100,
  memoryMib: 128,
  strategy: "binpack",
} as const;
