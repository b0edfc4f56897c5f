/**
 * TEST-ONLY stand-in for the official Node image, for a machine that cannot pull it: this
 * machine's node binary and the shared libraries it links (from ldd), its npm, busybox-static
 * for /bin/sh and the few tools the Dockerfile's RUN lines use, this machine's openssl (the
 * compose file's pki service runs `orchctl pki init`), and a `node` user (uid 1000),
 * imported as a rootfs with `docker import`. Good enough to build and run our image here; not a
 * base anyone should ship.
 */
import { execFile } from "node:child_process";
import { chmod, cp, mkdir, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The tag changes with the contents, so an engine that kept an older stand-in builds this one. */
export const nodeBaseImage = "orch-test/node-base:20-openssl";

/** The image's config: PATH, and this machine's CA bundle for npm behind a TLS-inspecting proxy. */
export const nodeBaseChanges = [
  "ENV PATH=/usr/local/bin:/usr/bin:/bin",
  "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
];

const tools = ["sh", "ln", "chmod", "chown", "mkdir", "cp", "rm", "ls", "cat", "mv", "wget", "sleep", "id"];

/** Where this machine's openssl and its configuration are (Debian). */
const openssl = { binary: "/usr/bin/openssl", config: "/usr/lib/ssl/openssl.cnf" } as const;

async function linkedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run("ldd", [binary]);
  return [...stdout.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]);
}

export async function nodeBaseRootfs(rootfs: string): Promise<void> {
  const node = resolve(process.execPath);
  const linked = [...new Set([...(await linkedLibraries(node)), ...(await linkedLibraries(openssl.binary))])];
  // Native addons (buf's plugins, LevelDB) load more of glibc than node itself links.
  const libDir = dirname(linked.find((l) => l.includes("/libc.so")) ?? "/lib/x86_64-linux-gnu/libc.so.6");
  const glibc = ["librt.so.1", "libresolv.so.2", "libutil.so.1", "libnss_dns.so.2", "libnss_files.so.2"]
    .map((name) => join(libDir, name))
    .filter((path) => existsSync(path));
  const libraries = [...linked, ...glibc];
  for (const library of libraries) {
    await mkdir(join(rootfs, dirname(library)), { recursive: true });
    await cp(library, join(rootfs, library), { dereference: true });
  }
  await mkdir(join(rootfs, "usr/local/bin"), { recursive: true });
  await cp(node, join(rootfs, "usr/local/bin/node"));
  // npm lives next to node: <prefix>/lib/node_modules/npm.
  const npmRoot = join(dirname(dirname(node)), "lib/node_modules/npm");
  await mkdir(join(rootfs, "usr/local/lib/node_modules"), { recursive: true });
  await cp(npmRoot, join(rootfs, "usr/local/lib/node_modules/npm"), { recursive: true, dereference: true });
  await symlink("../lib/node_modules/npm/bin/npm-cli.js", join(rootfs, "usr/local/bin/npm"));
  await symlink("../lib/node_modules/npm/bin/npx-cli.js", join(rootfs, "usr/local/bin/npx"));
  await mkdir(join(rootfs, "bin"), { recursive: true });
  await cp("/usr/bin/busybox", join(rootfs, "bin/busybox"));
  for (const tool of tools) await symlink("busybox", join(rootfs, "bin", tool));
  await mkdir(join(rootfs, "usr/bin"), { recursive: true });
  await symlink("/bin/busybox", join(rootfs, "usr/bin/env"));
  await cp(openssl.binary, join(rootfs, openssl.binary));
  await mkdir(join(rootfs, dirname(openssl.config)), { recursive: true });
  await cp(openssl.config, join(rootfs, openssl.config), { dereference: true });
  await mkdir(join(rootfs, "etc/ssl/certs"), { recursive: true });
  await cp("/etc/ssl/certs/ca-certificates.crt", join(rootfs, "etc/ssl/certs/ca-certificates.crt"));
  await writeFile(
    join(rootfs, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\n",
  );
  await writeFile(join(rootfs, "etc/group"), "root:x:0:\nnode:x:1000:\n");
  for (const dir of ["root", "home/node", "tmp"]) await mkdir(join(rootfs, dir), { recursive: true });
  await chmod(join(rootfs, "tmp"), 0o1777);
  await run("chown", ["1000:1000", join(rootfs, "home/node")]);
}
