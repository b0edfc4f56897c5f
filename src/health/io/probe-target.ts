import type { ContainerAddress, HealthCheckSpec } from "../../fsm/index.js";

/**
 * Where a container's health is probed when its check names a port: the address its agent
 * reported for that port. Null (probe through the agent) when the check names none or the
 * address is not known yet.
 */
export function probeTarget(
  check: Readonly<HealthCheckSpec>,
  addresses: readonly ContainerAddress[],
): { readonly base: string; readonly path: string } | null {
  if (check.port === "") return null;
  const address = addresses.find((a) => a.name === check.port)?.address;
  if (address === undefined) return null;
  return { base: `http://${address}`, path: check.path };
}
