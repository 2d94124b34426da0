# One image definition for the three Phos services. The build target selects the service:
#
#   docker build --target identity -t phos-identity .
#   docker build --target patients -t phos-patients .
#   docker build --target gateway  -t phos-gateway  .    (also the default when no target is given)
#
# The image keeps the repository layout (/app/shared, /app/subgraphs/*, /app/gateway, /app/schema)
# because the services read their SDL from /app/schema at run time.
# Debian (glibc) rather than Alpine: @node-rs/argon2 and @libsql ship prebuilt linux-x64-gnu binaries.

# ---- build: install everything, compile every workspace, then drop the dev dependencies ----------
FROM node:20-bookworm-slim AS build
WORKDIR /app

# Manifests first, so the dependency layer is reused until a package.json or the lockfile changes.
# npm ci needs the manifest of every workspace listed in the root package.json, test included.
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY subgraphs/identity/package.json subgraphs/identity/
COPY subgraphs/patients/package.json subgraphs/patients/
COPY gateway/package.json gateway/
COPY test/package.json test/
RUN npm ci --no-audit --no-fund

# Sources, then `tsc -b`, which writes <workspace>/dist for every project the root tsconfig references,
# and the gateway's live page (esbuild, a dev dependency, still installed here) into gateway/live/dist.
COPY tsconfig.json tsconfig.base.json ./
COPY shared shared
COPY subgraphs subgraphs
COPY gateway gateway
COPY scripts scripts
COPY schema schema
RUN npx tsc -b \
 && node gateway/live/build.mjs \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: production dependencies, compiled output and the SDL; runs as the `node` user --------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app

COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/shared shared
COPY --from=build /app/subgraphs subgraphs
COPY --from=build /app/gateway gateway
COPY --from=build /app/schema schema

# Only used when a service runs without a *_DATABASE_URL (embedded SQLite under /app/.data).
RUN mkdir .data && chown node:node .data
USER node

# Each stage below checks its own /readyz (200 when its dependencies answer). The slim image has
# no curl, so the check uses Node's built-in fetch.

# ---- identity subgraph ------------------------------------------------------------------------
FROM runtime AS identity
EXPOSE 4001
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.IDENTITY_PORT||4001)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "subgraphs/identity/dist/index.js"]

# ---- patients subgraph ------------------------------------------------------------------------
FROM runtime AS patients
EXPOSE 4002
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PATIENTS_PORT||4002)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "subgraphs/patients/dist/index.js"]

# ---- gateway (last, so it is what a plain `docker build .` produces) -------------------------------
FROM runtime AS gateway
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.GATEWAY_PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "gateway/dist/index.js"]
