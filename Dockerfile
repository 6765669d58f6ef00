# syntax=docker/dockerfile:1
# The image: Node.js 24 LTS, production dependencies and the compiled product, run as `node`
# (uid 1000) with one writable volume for state and spool. Build: docker build -t log-archiver .

# Build: compile TypeScript with the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# The product build (tsconfig.build.json) compiles src, jobs and the demo's simulators; only
# dist/src and dist/jobs reach the image below: it holds no simulator and no test.
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY jobs ./jobs
COPY simulators ./simulators
RUN npm ci --no-audit --no-fund

# Runtime: production dependencies and the compiled output only.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/jobs ./dist/jobs
COPY LICENSE README.md ./
# State (file checkpoints, run status, lease files: checkpoints.path defaults to ./.archiver-state,
# relative to this working directory) and the spool of batches on their way to storage.
RUN mkdir -p /var/lib/log-archiver/.archiver-state /var/lib/log-archiver/spool \
  && chown -R node:node /var/lib/log-archiver \
  && chmod 0700 /var/lib/log-archiver/spool
ENV LOG_ARCHIVER_SPOOL_DIR=/var/lib/log-archiver/spool
VOLUME ["/var/lib/log-archiver"]
WORKDIR /var/lib/log-archiver
USER node
# worker.metricsPort: /metrics, /healthz, /readyz, /dashboard.
EXPOSE 9464
# Liveness of a worker with worker.metricsPort 9464 (set METRICS_PORT when it differs); run-once
# containers (cron) have no HTTP port: start them with --no-healthcheck.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.METRICS_PORT||9464}/healthz`).then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/src/cli.js"]
CMD ["worker", "-c", "/config/config.yaml"]
