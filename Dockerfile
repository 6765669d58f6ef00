# syntax=docker/dockerfile:1
# Build: compile TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The product build (tsconfig.build.json) compiles src, jobs and the demo's simulators; only
# dist/src and dist/jobs reach the image below: it holds no simulator and no test.
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY jobs ./jobs
COPY simulators ./simulators
RUN npm ci --no-audit --no-fund

# Runtime: production dependencies and the compiled output only, as a non-root user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/jobs ./dist/jobs
USER node
# The spool of batches being written lives here; mount a volume for large batches.
ENV LOG_ARCHIVER_SPOOL_DIR=/tmp/log-archiver-spool
ENTRYPOINT ["node", "/app/dist/src/cli.js"]
CMD ["worker", "-c", "/config/config.yaml"]
