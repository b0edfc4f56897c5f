import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { message, type Message, type ReplicaId } from "../../src/raft/core/types.js";
import { GrpcTransport } from "../../src/raft/io/grpc-transport.js";

// The real fast-failover signal: a replica process killed with SIGKILL. The kernel closes its
// sockets, and the surviving side must report the lost connection at once. The transport runs
// in a child process from sources transpiled on the fly (there is no TS loader installed and no
// build output to rely on).

const repoRoot = resolve(import.meta.dirname, "../..");
let workDir = "";

/** Transpiles `entry` and every module it imports relatively into `outRoot`, keeping paths. */
function transpileTree(entry: string, outRoot: string): void {
  const pending = [entry];
  const seen = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    for (const match of source.matchAll(/(?:from|import)\s+"(\.{1,2}\/[^"]+)\.js"/g))
      pending.push(resolve(dirname(file), `${match[1]}.ts`));
    const output = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: file,
    });
    const outFile = join(outRoot, relative(repoRoot, file)).replace(/\.ts$/, ".js");
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, output.outputText);
  }
}

const childScript = `
import { GrpcTransport } from "./src/raft/io/grpc-transport.js";
const [id, port, peer, peerAddress] = process.argv.slice(2);
let term = 1;
const transport = new GrpcTransport({
  id,
  listenAddress: "127.0.0.1:" + port,
  peers: new Map([[peer, peerAddress]]),
  handlers: { onMessage() {}, onPeerConnectionLost() {}, onUnreachable() {}, onSnapshotStatus() {} },
});
await transport.start();
process.stdout.write("ready " + transport.port() + "\\n");
// A leader's heartbeats, every 10 ms.
setInterval(() => transport.send([{ type: "heartbeat", from: id, to: peer, term: term++, logIndex: 0, logTerm: 0, entries: [], commit: 0,
  reject: false, index: 0, rejectHint: 0, force: false, context: "", snapshot: null }]), 10);
`;

function spawnLeader(port: number, follower: GrpcTransport): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [join(workDir, "child.mjs"), "L", String(port), follower.id, follower.address()],
    {
      cwd: workDir,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  return new Promise((resolvePort, reject) => {
    child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
    createInterface({ input: child.stdout! }).once("line", (line) => {
      const [word, bound] = line.split(" ");
      if (word === "ready") resolvePort({ child, port: Number(bound) });
      else reject(new Error(`unexpected child output: ${line}`));
    });
  });
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe("GrpcTransport against a SIGKILLed peer process", () => {
  const children: ChildProcess[] = [];

  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "raft-transport-"));
    transpileTree(join(repoRoot, "src/raft/io/grpc-transport.ts"), workDir);
    symlinkSync(join(repoRoot, "node_modules"), join(workDir, "node_modules"));
    writeFileSync(join(workDir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(join(workDir, "child.mjs"), childScript);
  });

  afterAll(() => {
    for (const child of children) child.kill("SIGKILL");
    if (workDir !== "") rmSync(workDir, { recursive: true, force: true });
  });

  it("reports the lost leader promptly and hears from it again after a restart on the same port", async () => {
    const received: Message[] = [];
    const lost: Array<{ peer: ReplicaId; atMs: number }> = [];
    const follower = new GrpcTransport({
      id: "f",
      listenAddress: "127.0.0.1:0",
      peers: new Map(),
      limits: { reconnectDelayMsMax: 200 },
      handlers: {
        onMessage: (m) => {
          received.push(m);
          // Answer, so the follower's own stream to the leader is connected too.
          follower.send([message({ type: "heartbeat-resp", from: "f", to: "L", term: m.term })]);
        },
        onPeerConnectionLost: (peer) => lost.push({ peer, atMs: performance.now() }),
        onUnreachable: () => undefined,
        onSnapshotStatus: () => undefined,
      },
    });
    await follower.start();
    try {
      const first = await spawnLeader(0, follower);
      children.push(first.child);
      follower.setPeers(new Map([["L", `127.0.0.1:${first.port}`]]));
      await waitFor(
        () => received.length >= 5 && follower.peerStats("L")?.state === "connected",
        "heartbeats from the leader process",
      );

      const killedMs = performance.now();
      first.child.kill("SIGKILL");
      await waitFor(() => lost.some((l) => l.peer === "L"), "the lost connection", 5_000);
      const lostAfterMs = lost[0].atMs - killedMs;
      console.log(
        `SIGKILLed leader: connection loss reported after ${lostAfterMs.toFixed(1)} ms (${lost.length} reports)`,
      );
      expect(lostAfterMs).toBeLessThan(1000);

      const before = received.length;
      const restartedMs = performance.now();
      const second = await spawnLeader(first.port, follower);
      children.push(second.child);
      await waitFor(() => received.length > before + 3, "heartbeats from the restarted leader");
      await waitFor(() => follower.peerStats("L")?.state === "connected", "the follower's stream reconnecting");
      console.log(
        `restarted leader heard again after ${(performance.now() - restartedMs).toFixed(1)} ms (process start included)`,
      );
      second.child.kill("SIGKILL");
    } finally {
      await follower.stop();
    }
  });
});
