# The mqop container image, for builders that can pull from a registry:
#   docker build -t mqop:0.1.0 .
# On machines without a registry (this project's dev and CI machines) scripts/image/build.sh makes
# the same image offline from Debian packages and the npm registry (docs/image.md). Keep the two in
# step: Debian bookworm, Node 24 at /usr/local/bin/node, the app in /app (operator/src,
# smoke-tests/src, examples, crds, package.json; no *.test.ts (.dockerignore) and no bench/, a
# development tool), production node_modules pruned by scripts/image/prune-node-modules.sh, tini
# as PID 1, user mqop (65532), `mqop` on PATH.
#
# Why not distroless (gcr.io/distroless/nodejs24-debian12:nonroot)? The zeromq engine's Deployment
# runs `command: ['mqop']`, which needs the /usr/local/bin/mqop sh wrapper, and distroless has no sh.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- production dependencies -------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/image/prune-node-modules.sh /tmp/image/
# --omit=dev drops node@24 (a devDependency that pins Node for scripts and CI): the image runs the
# base image's node. --ignore-scripts: the only production packages with install scripts are zeromq
# (it only checks its shipped prebuilt addon, else compiles one) and protobufjs (a version notice);
# package.json's allowScripts forbids both anyway.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && sh /tmp/image/prune-node-modules.sh node_modules

# ---- runtime ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# tini: PID 1 that forwards signals and reaps zombies. npm, npx, corepack and yarn go: the image
# only runs node (the offline build has none of them either).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
    /usr/local/lib/node_modules /opt/yarn-* \
    /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg
# The user mqop (65532) and /usr/local/bin/mqop, exactly as the offline build adds them.
COPY scripts/image/setup-rootfs.sh scripts/image/mqop /tmp/image/
RUN sh /tmp/image/setup-rootfs.sh / && rm -rf /tmp/image
WORKDIR /app
COPY package.json ./
COPY operator/src ./operator/src
COPY smoke-tests/src ./smoke-tests/src
COPY examples ./examples
COPY crds ./crds
COPY --from=deps /app/node_modules ./node_modules
ENV NODE_ENV=production
USER 65532:65532
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/operator/src/runtime/main.ts"]
CMD ["--help"]
LABEL org.opencontainers.image.title=mqop \
      org.opencontainers.image.version=0.1.0 \
      org.opencontainers.image.licenses=Apache-2.0 \
      mqop.build=dockerfile
