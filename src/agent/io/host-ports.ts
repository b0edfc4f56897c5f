/**
 * Host ports for containers' named ports. With host networking (the only mode a dockerd started
 * with --bridge=none has) each replica must listen on its own port: the agent picks a free one
 * from its range for each named port and passes it as PORT_<NAME> (and PORT). A port is free when
 * no container of this agent holds it and a listen on it succeeds right now.
 */
import { createServer } from "node:net";
import { assert } from "../../lib/assert.js";

export class HostPorts {
  private readonly held = new Set<number>();
  private next: number;

  constructor(
    private readonly first: number,
    private readonly last: number,
  ) {
    assert(first >= 1 && last <= 65_535 && first <= last, "a host port range within 1..65535");
    this.next = first;
  }

  /** Marks ports as held (an adopted container's). */
  hold(ports: Iterable<number>): void {
    for (const port of ports) this.held.add(port);
  }

  release(ports: Iterable<number>): void {
    for (const port of ports) this.held.delete(port);
  }

  /** `count` free ports, held until released; null when the range has no more. */
  async take(count: number): Promise<number[] | null> {
    const taken: number[] = [];
    const size = this.last - this.first + 1;
    for (let tried = 0; tried < size && taken.length < count; tried++) {
      const port = this.next;
      this.next = port === this.last ? this.first : port + 1;
      if (this.held.has(port)) continue;
      this.held.add(port);
      if (await listenable(port)) taken.push(port);
      else this.held.delete(port);
    }
    if (taken.length === count) return taken;
    this.release(taken);
    return null;
  }
}

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "0.0.0.0", exclusive: true }, () => server.close(() => resolve(true)));
  });
}
