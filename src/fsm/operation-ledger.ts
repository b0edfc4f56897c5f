import { assert } from "../lib/assert.js";
import type { OperationRecord } from "./state.js";

/**
 * The open deployment operations: at most one per deployment. Replicated in opening order
 * (the snapshot preserves it); the per-deployment index is derived.
 */
export class OperationLedger {
  private readonly byId = new Map<string, OperationRecord>();
  /** Open operation id by deployment name. */
  private readonly byDeployment = new Map<string, string>();

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, "operation ledger capacity must be a positive integer");
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): OperationRecord | undefined {
    return this.byId.get(id);
  }

  ofDeployment(deployment: string): OperationRecord | undefined {
    const id = this.byDeployment.get(deployment);
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Opens `operation`; returns the operation of the same deployment it supersedes, if any. */
  open(operation: OperationRecord): OperationRecord | undefined {
    assert(!this.byId.has(operation.id), `operation ${operation.id} opened twice`);
    const superseded = this.dropDeployment(operation.deployment);
    assert(this.byId.size < this.capacity, "open operations over their bound");
    this.byId.set(operation.id, operation);
    this.byDeployment.set(operation.deployment, operation.id);
    return superseded;
  }

  close(id: string): OperationRecord {
    const operation = this.byId.get(id);
    assert(operation !== undefined, `closing operation ${id}, which is not open`);
    this.byId.delete(id);
    assert(this.byDeployment.get(operation.deployment) === id, `operation index misses ${id}`);
    this.byDeployment.delete(operation.deployment);
    return operation;
  }

  /** Forgets the deployment's open operation (it was superseded or the deployment deleted). */
  dropDeployment(deployment: string): OperationRecord | undefined {
    const open = this.ofDeployment(deployment);
    if (open !== undefined) this.close(open.id);
    return open;
  }

  /** In opening order. */
  values(): IterableIterator<OperationRecord> {
    return this.byId.values();
  }

  restore(operations: readonly OperationRecord[]): void {
    assert(this.byId.size === 0, "restoring into a ledger in use");
    assert(operations.length <= this.capacity, "snapshot holds more open operations than the ledger");
    for (const operation of operations) {
      assert(!this.byId.has(operation.id), `snapshot repeats operation ${operation.id}`);
      assert(
        !this.byDeployment.has(operation.deployment),
        `snapshot has two open operations for ${operation.deployment}`,
      );
      this.byId.set(operation.id, operation);
      this.byDeployment.set(operation.deployment, operation.id);
    }
  }

  checkInvariants(): void {
    assert(this.byId.size <= this.capacity, "open operations over their bound");
    assert(this.byDeployment.size === this.byId.size, "operation index size differs");
    for (const [id, operation] of this.byId) {
      assert(operation.id === id, `operation ${id} is filed under another id`);
      assert(this.byDeployment.get(operation.deployment) === id, `operation index misses ${id}`);
      assert(
        id === `${operation.deployment}-${operation.startedRevision}`,
        `operation ${id} id does not match its deployment and revision`,
      );
      assert(operation.deadlineAtMs >= operation.startedAtMs, `operation ${id} ends before it starts`);
    }
  }
}
