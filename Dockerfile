# MicroOrchestrator: one image with the three binaries on PATH (orchestrator, node-agent,
# orchctl). cluster/docker-compose.yml runs it as three replicas and three regional agents.
#
#   docker build -t microorchestrator .
#   docker run --rm microorchestrator orchestrator --help
#
# BASE_IMAGE is the Node runtime both stages start from (default the official Node image). It
# needs node and npm on PATH, /bin/sh, /usr/bin/env and a user `node` (uid 1000); the runtime stage
# also needs openssl (`orchctl pki`), installed with apt-get when the base lacks it. The compose test
# (test/docker/compose.test.ts) passes a stand-in built offline from this machine's Node.
ARG BASE_IMAGE=node:20-slim

# --- build: compile TypeScript (and the protobuf code buf generates) ---------------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /src
# Dependencies first, so editing sources does not invalidate this layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json buf.yaml buf.gen.yaml ./
COPY proto ./proto
COPY src ./src
# `npm run build` = buf generate && tsc. Then drop the dev dependencies (TypeScript, buf, vitest,
# eslint) so the runtime stage copies only what the binaries load.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime ----------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
# `orchctl pki init` (the compose file's one-shot pki service) signs with the system's openssl,
# which the slim Node image does not have.
RUN command -v openssl >/dev/null 2>&1 \
 || (apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*)
# The package.json `bin` entries, on PATH. Each has a `#!/usr/bin/env node` line; Node follows
# the symlink, so their relative imports resolve inside /app/dist.
RUN chmod 0755 dist/src/server/main.js dist/src/agent/main.js dist/src/cli/main.js \
 && ln -s /app/dist/src/server/main.js /usr/local/bin/orchestrator \
 && ln -s /app/dist/src/agent/main.js /usr/local/bin/node-agent \
 && ln -s /app/dist/src/cli/main.js /usr/local/bin/orchctl \
 && mkdir -p /data /pki /pki-ca /acl \
 && chown node:node /data /pki /pki-ca /acl
# The unprivileged user of the node image (uid 1000). A replica keeps its Raft log and snapshots
# in --data-dir /data, the compose file's PKI lives in /pki and /pki-ca, its bootstrapped ACL
# token in /acl; a named volume mounted there starts out owned by this user.
USER node
VOLUME ["/data"]
# Replica 1's API, Raft and HTTP ports and agent 1's HTTP port (DESIGN.md); other replicas and
# agents use 5005i / 700i / 808(i-1) and 9101..9103.
EXPOSE 50051 7001 8080 9101
CMD ["orchestrator", "--help"]
