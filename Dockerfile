# campus-sync images, one target per deployable (build from the repository root):
#   docker build --target webapp .       the portal
#   docker build --target cdc-daemon .   the CDC daemon
# The deps stage installs production dependencies once; each runtime runs as `node`.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json tsconfig.json ./
COPY --chown=node:node lib ./lib
USER node

FROM runtime AS webapp
COPY --chown=node:node mysql ./mysql
COPY --chown=node:node scripts ./scripts
COPY --chown=node:node webapp ./webapp
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Migrates MySQL, seeds a demo university when it is empty (printing the demo accounts), serves.
CMD ["node_modules/.bin/tsx", "scripts/start.ts", "--services", "webapp"]

FROM runtime AS cdc-daemon
COPY --chown=node:node postgres ./postgres
COPY --chown=node:node cdc-daemon ./cdc-daemon
ENV CDC_HTTP_PORT=9464
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.CDC_HTTP_PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# A daemon that cannot reach PostgreSQL exits non-zero at start, so compose restarts it.
CMD ["node_modules/.bin/tsx", "cdc-daemon/src/main.ts", "run"]
