import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { skipDocker, startEngine, testImage, type DockerEngine } from "./engine.js";

describe.skipIf(skipDocker)("the test engine", () => {
  let engine: DockerEngine;
  beforeAll(async () => {
    engine = await startEngine();
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it("runs busybox httpd from the offline image on the host network", async () => {
    const port = 18_000 + Math.floor(Math.random() * 1000);
    const id = (
      await engine.docker([
        "run",
        "-d",
        "--network",
        "host",
        testImage,
        "httpd",
        "-f",
        "-p",
        String(port),
        "-h",
        "/www",
      ])
    ).trim();
    try {
      let body = "";
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        body = await fetch(`http://127.0.0.1:${port}/`).then(
          (r) => r.text(),
          () => "",
        );
        if (body !== "") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(body).toBe("hello from busybox\n");
    } finally {
      await engine.docker(["rm", "-f", id]);
    }
  });
});
