import type { Command } from "commander";
import {
  MemberAddRequest,
  MemberListRequest,
  MemberPromoteRequest,
  MemberRemoveRequest,
  type Member,
} from "../../gen/orchestrator/v1/orchestrator.js";
import { RpcFailure } from "../../lib/rpc-failure.js";
import { CliError } from "../errors.js";
import { orDash, renderTable } from "../output.js";
import type { SessionFor } from "../session.js";

const EXAMPLES = `
Examples (replacing a failed replica r3 by r4; docs/operations.md, "Replacing a failed replica"):
  orchctl member list
  orchctl member remove r3
  orchctl member add r4 --raft 10.0.0.4:7004 --api 10.0.0.4:50054
  orchestrator --id r4 --join 10.0.0.1:50051 --raft 10.0.0.4:7004 --api 10.0.0.4:50054 ...
  orchctl member promote r4          # the leader also promotes it once it has caught up
`;

function lastContact(member: Member): string {
  if (member.role === "leader") return "-";
  if (member.lastContactMs < 0) return "never";
  return `${(member.lastContactMs / 1000).toFixed(1)}s ago`;
}

export function renderMembers(members: readonly Member[]): string {
  const rows = members.map((m) => [
    m.id,
    orDash(m.suffrage),
    orDash(m.role),
    orDash(m.raftAddress),
    orDash(m.apiAddress),
    String(m.matchIndex),
    m.reachable ? "yes" : "no",
    lastContact(m),
  ]);
  return renderTable(
    ["ID", "SUFFRAGE", "ROLE", "RAFT-ADDRESS", "API-ADDRESS", "MATCH-INDEX", "REACHABLE", "LAST-CONTACT"],
    rows,
  );
}

/** A member call; a refusal keeps its status and gets a hint about members, not deployments. */
async function memberCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof RpcFailure && error.statusName !== "UNAVAILABLE" && error.statusName !== "DEADLINE_EXCEEDED")
      throw new CliError(
        error.statusName,
        error.details || error.statusName,
        "run `orchctl member list` to see the members, their suffrage and match index",
      );
    throw error;
  }
}

export function registerMember(parent: Command, sessionFor: SessionFor): void {
  const member = parent
    .command("member")
    .description("control-plane membership: list, add a learner, promote it, remove a member")
    .addHelpText("after", EXAMPLES);
  member
    .command("list")
    .description("every member with its addresses, voter or learner, match index and last contact (the leader's view)")
    .action(async (_flags: unknown, command: Command) => {
      const session = sessionFor(command);
      const response = await memberCall(() => session.client.call("memberList", MemberListRequest.fromPartial({})));
      if (session.out.isJson) session.out.json(response);
      else
        session.out.text(
          `Leader ${response.leaderId}, term ${response.term}, commit ${response.commitIndex}\n${renderMembers(response.members)}`,
        );
    });
  member
    .command("add <id>")
    .description("add a learner; then start it with `orchestrator --id ID --join ENDPOINTS --raft ... --api ...`")
    .requiredOption("--raft <host:port>", "where the new member's Raft transport will listen")
    .requiredOption("--api <host:port>", "where the new member will serve the API")
    .action(async (id: string, flags: { raft: string; api: string }, command: Command) => {
      const session = sessionFor(command);
      const response = await memberCall(() =>
        session.client.call(
          "memberAdd",
          MemberAddRequest.fromPartial({
            header: session.client.nextHeader(),
            id,
            raftAddress: flags.raft,
            apiAddress: flags.api,
          }),
        ),
      );
      if (session.out.isJson) session.out.json(response);
      else
        session.out.text(
          `added ${id} as a learner; start it with: orchestrator --id ${id} --join ENDPOINTS --raft ${flags.raft} --api ${flags.api} --data-dir DIR`,
        );
    });
  member
    .command("promote <id>")
    .description("make a caught-up learner a voter (refused while it is behind)")
    .action(async (id: string, _flags: unknown, command: Command) => {
      const session = sessionFor(command);
      const response = await memberCall(() =>
        session.client.call("memberPromote", MemberPromoteRequest.fromPartial({ id })),
      );
      if (session.out.isJson) session.out.json(response);
      else session.out.text(`promoted ${id} to voter`);
    });
  member
    .command("remove <id>")
    .description("remove a member (removing the leader hands leadership over first)")
    .action(async (id: string, _flags: unknown, command: Command) => {
      const session = sessionFor(command);
      const response = await memberCall(() =>
        session.client.call(
          "memberRemove",
          MemberRemoveRequest.fromPartial({ header: session.client.nextHeader(), id }),
        ),
      );
      if (session.out.isJson) session.out.json(response);
      else session.out.text(`removed ${id}\n${renderMembers(response.members)}`);
    });
}
