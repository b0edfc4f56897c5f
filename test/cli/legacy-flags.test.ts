import { describe, expect, it } from "vitest";
import { isLegacyForm, translateLegacyArgs } from "../../src/cli/legacy-flags.js";

const split = (line: string): string[] => line.split(" ").filter((word) => word !== "");

describe("isLegacyForm", () => {
  it.each([
    "-server=localhost:50051 -action=deploy -name=demo-app -image=nginx:latest",
    "-action=list",
    "-action list",
    "--action=get -name=web",
    "-server localhost:1 -action list",
  ])("recognises %j", (line) => {
    expect(isLegacyForm(split(line))).toBe(true);
  });

  it.each([
    "deploy web --image nginx:latest --cpu 500m",
    "list -o json",
    "--endpoints=127.0.0.1:1 list",
    "get web --output=json",
    "",
    "scale web 3",
  ])("leaves the modern form alone: %j", (line) => {
    expect(isLegacyForm(split(line))).toBe(false);
  });
});

describe("translateLegacyArgs", () => {
  it.each([
    [
      "-server=localhost:50051 -action=deploy -name=demo-app -image=nginx:latest -replicas=2 -cpu=2 -memory=1024",
      "--endpoints localhost:50051 deploy demo-app --image nginx:latest --replicas 2 --cpu 2 --memory 1024",
    ],
    [
      "-action=deploy -name=a -image=i -strategy=spread -regions=us-east-1 -wait",
      "deploy a --image i --strategy spread --regions us-east-1 --wait",
    ],
    ["-action deploy -name a -image i -one-per-node=true -wait=false", "deploy a --image i --one-per-node"],
    ["-server=h:1 -action=scale -name=demo-app -replicas=5", "--endpoints h:1 scale demo-app 5"],
    ["-server=h:1 -action=delete -name=demo-app", "--endpoints h:1 delete demo-app"],
    ["-action=get -name=demo-app -output=json", "--output json get demo-app"],
    ["-action=list -server=h:1,h:2 -timeout=3", "--endpoints h:1,h:2 --timeout 3 list"],
    ["--action=nodes", "nodes"],
    // Flags the action does not use are ignored, as the seed ignored them.
    ["-action=delete -name=x -image=ignored -replicas=9", "delete x"],
  ])("%j", (legacy, modern) => {
    expect(translateLegacyArgs(split(legacy))).toEqual({ ok: true, value: split(modern) });
  });

  it.each([
    ["-server=h:1", "needs -action"],
    ["-action=explode", 'unknown -action "explode"'],
    ["-action=deploy -name=a", "-action=deploy needs -image"],
    ["-action=scale -name=a", "-action=scale needs -replicas"],
    ["-action=get", "-action=get needs -name"],
    ["-action=list -colour=red", "unknown flag -colour"],
    ["-action=list stray", 'unexpected argument "stray"'],
    ["-action=list -wait=maybe", "takes true or false"],
    ["-action=get -name", "-name needs a value"],
  ])("refuses %j", (legacy, message) => {
    const translated = translateLegacyArgs(split(legacy));
    expect(translated.ok).toBe(false);
    if (!translated.ok) expect(translated.error).toContain(message);
  });
});
