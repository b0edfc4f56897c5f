/**
 * What each RPC needs when a replica runs with --acl (docs/security.md, "Tokens and roles"):
 * one table for every method of every service the API server serves. A method missing here is
 * refused (fail closed), and test/security/access-rules.test.ts fails for it, so a new RPC
 * cannot ship without a decision.
 */
import type { TokenRole } from "../fsm/index.js";

/**
 * "public": every caller (with mutual TLS, every client certificate): finding the leader, and the
 * bootstrap, which works once per cluster and before any token exists. Otherwise the least role
 * a token must hold; people's roles are ordered (viewer < deployer < operator < admin), agent
 * stands apart.
 */
export type AccessNeed = "public" | TokenRole;

/** By service, then by method name as in the .proto files. */
export const accessRules: Readonly<Record<string, Readonly<Record<string, AccessNeed>>>> = {
  "orchestrator.v1.OrchestratorService": {
    // Leader discovery, as etcd's Status: clients and local tooling find the leader before they hold a token.
    ClusterStatus: "public",
    AclBootstrap: "public",
    GetDeployment: "viewer",
    ListDeployments: "viewer",
    ListContainers: "viewer",
    ListNodes: "viewer",
    Watch: "viewer",
    GetSlo: "viewer",
    Deploy: "deployer",
    Scale: "deployer",
    Delete: "deployer",
    RolloutAction: "deployer",
    Apply: "deployer",
    Plan: "deployer",
    InjectFault: "operator",
    TransferLeadership: "operator",
    TokenCreate: "admin",
    TokenList: "admin",
    TokenRevoke: "admin",
    // Also open to a replica certificate without a token (a --join replica; access-control.ts).
    MemberList: "viewer",
    MemberAdd: "operator",
    MemberPromote: "operator",
    MemberRemove: "operator",
    NodeDrain: "operator",
    NodeEligibility: "operator",
    SnapshotSave: "operator",
  },
  "agent.v1.AgentService": {
    Register: "agent",
    Heartbeat: "agent",
    WatchAssignments: "agent",
    ReportStatus: "agent",
  },
};

/** A gRPC method path ("/orchestrator.v1.OrchestratorService/Deploy"): its service and method names. */
export function splitMethodPath(path: string): { readonly service: string; readonly method: string } | null {
  const match = /^\/([\w.]+)\/(\w+)$/.exec(path);
  return match === null ? null : { service: match[1], method: match[2] };
}

/** A method's rule, keyed by its gRPC path: built once, looked up on every call. */
export interface AccessRule {
  readonly method: string;
  readonly need: AccessNeed;
}

const rulesByPath: ReadonlyMap<string, AccessRule> = new Map(
  Object.entries(accessRules).flatMap(([service, methods]) =>
    Object.entries(methods).map(([method, need]): [string, AccessRule] => [`/${service}/${method}`, { method, need }]),
  ),
);

/** The rule of `path`, or undefined when the table has none (refuse). */
export function accessRuleOf(path: string): AccessRule | undefined {
  return rulesByPath.get(path);
}

/** What `path` needs, or undefined when the table has no rule for it (refuse). */
export function accessNeedOf(path: string): AccessNeed | undefined {
  return rulesByPath.get(path)?.need;
}

/**
 * Unary reads: their token is checked again after the read, when this replica's state is at
 * least as new as the leader's at the read (ReadIndex), so a token revoked before the read began
 * is refused on every replica. Writes are checked once: they are applied by the leader, whose
 * state already holds every committed revocation.
 */
const readMethods: ReadonlySet<string> = new Set([
  "GetDeployment",
  "ListDeployments",
  "ListContainers",
  "ListNodes",
  "GetSlo",
  "Plan",
  "TokenList",
  "MemberList",
]);

/** `method` as named in the .proto ("ListNodes"). */
export function isReadMethod(method: string): boolean {
  return readMethods.has(method);
}
