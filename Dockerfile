# campus-sync images, one target per deployable (build from the repository root):
#   docker build --target webapp .       the portal
#   docker build --target cdc-daemon .   the CDC daemon
# `build` compiles the TypeScript to dist/ with every dependency; `deps` installs the production
# dependencies alone (no tsx, no compiler); each runtime runs compiled JavaScript as `node`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY scripts ./scripts
COPY webapp ./webapp
COPY cdc-daemon ./cdc-daemon
RUN npm run build

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json ./
COPY --from=build --chown=node:node /app/dist/lib ./dist/lib
USER node

FROM runtime AS webapp
COPY --chown=node:node mysql ./mysql
COPY --chown=node:node webapp/src/views ./webapp/src/views
COPY --chown=node:node webapp/src/public ./webapp/src/public
COPY --from=build --chown=node:node /app/dist/scripts ./dist/scripts
COPY --from=build --chown=node:node /app/dist/webapp ./dist/webapp
ENV PORTAL_METRICS_PORT=9465
EXPOSE 3000 9465
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Migrates MySQL, seeds a demo university when it is empty (printing the demo accounts), serves.
CMD ["node", "dist/scripts/start.js", "--services", "webapp"]

FROM runtime AS cdc-daemon
COPY --chown=node:node postgres ./postgres
COPY --from=build --chown=node:node /app/dist/cdc-daemon ./dist/cdc-daemon
ENV CDC_HTTP_PORT=9464
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.CDC_HTTP_PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# A daemon that cannot reach PostgreSQL exits non-zero at start, so compose restarts it.
# The heap flags of DAEMON_NODE_FLAGS (cdc-daemon/src/config.ts): peak RSS stays under 256 MB.
CMD ["node", "--max-old-space-size=160", "--max-semi-space-size=8", "--heap-growing-percent=100", "dist/cdc-daemon/src/main.js", "run"]
