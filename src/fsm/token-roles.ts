/**
 * The roles an access token carries (docs/security.md, "Tokens and roles"). People's roles are
 * ordered, each allowing what the one before it allows and more; the agent role stands apart:
 * it speaks AgentService only, and no person's role speaks AgentService.
 */
export const personRoles = ["viewer", "deployer", "operator", "admin"] as const;
export const tokenRoles = [...personRoles, "agent"] as const;

export type PersonRole = (typeof personRoles)[number];
export type TokenRole = (typeof tokenRoles)[number];

export function isTokenRole(value: string): value is TokenRole {
  return (tokenRoles as readonly string[]).includes(value);
}

/** Whether a token of role `held` may do what needs role `needed`. */
export function roleAllows(held: TokenRole, needed: TokenRole): boolean {
  if (held === "agent" || needed === "agent") return held === needed;
  return personRoles.indexOf(held) >= personRoles.indexOf(needed);
}
