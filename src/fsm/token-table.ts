import { assert } from "../lib/assert.js";
import type { TokenRecord } from "./state.js";

/**
 * The access tokens: by name (replicated, in creation order, which the snapshot preserves) and
 * by the hash of their secret (derived, rebuilt on restore), so a call's token is found in O(1).
 */
export class TokenTable {
  private readonly byName = new Map<string, TokenRecord>();
  private readonly byHash = new Map<string, TokenRecord>();

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, "token table capacity must be a positive integer");
  }

  get size(): number {
    return this.byName.size;
  }

  get(name: string): TokenRecord | undefined {
    return this.byName.get(name);
  }

  bySecretHash(secretSha256: string): TokenRecord | undefined {
    return this.byHash.get(secretSha256);
  }

  hasHash(secretSha256: string): boolean {
    return this.byHash.has(secretSha256);
  }

  add(token: TokenRecord): void {
    assert(!this.byName.has(token.name), "token names are unique");
    assert(!this.byHash.has(token.secretSha256), "token secrets are unique");
    assert(this.byName.size < this.capacity, "tokens over their bound");
    this.byName.set(token.name, token);
    this.byHash.set(token.secretSha256, token);
  }

  remove(name: string): TokenRecord | undefined {
    const token = this.byName.get(name);
    if (token === undefined) return undefined;
    this.byName.delete(name);
    this.byHash.delete(token.secretSha256);
    return token;
  }

  /** In creation order. */
  values(): IterableIterator<TokenRecord> {
    return this.byName.values();
  }

  restore(tokens: readonly TokenRecord[]): void {
    assert(this.byName.size === 0, "restore into an empty token table");
    for (const token of tokens) this.add(token);
  }
}
