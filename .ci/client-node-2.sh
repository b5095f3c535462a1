#!/usr/bin/env bash
# The tests that drive the elector over real HTTP through @kubernetes/client-node, run a second
# time on Node 22 with client-node 2.x (the main run uses the repository's Node and client-node 1.x).
#
# Installs node@NODE_VERSION (a real Node binary from the npm registry) and client-node
# CLIENT_NODE_VERSION into a scratch directory OUTSIDE the repository (npm cache there too; a
# second run installs nothing), then runs jest with that Node and with `@kubernetes/client-node`
# resolving to that copy: in jest through LEASEKIT_CLIENT_NODE (read by the packages'
# jest.config.js), in child processes the tests start through a resolve hook (--import).
# Needs a built tree (`pnpm build`): the packages' tests import each other's dist.
#
# Writes packages/<pkg>/jest-results-node22.json (jest --json) and prints
# "node22 + client-node <version>: N tests passed". Exits non-zero when a test failed, nothing
# ran, the Node is not 22.x (>= 22.19) or the client-node jest loaded is not the 2.x copy.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd -P)
NODE_VERSION=22.23.3
CLIENT_NODE_VERSION=2.0.1
SCRATCH=${LEASEKIT_NODE22_DIR:-${TMPDIR:-/tmp}/leasekit-node22-client-node-2}
RESULTS=jest-results-node22.json

# Each package and its test files that drive the elector (or, in the embedded server's own tests,
# client-node itself) over real HTTP through client-node. Not bench's storm test: it counts
# requests in a 2 s window and, in jest on Node 22, its first run is sometimes too cold to make
# one write in that window (with client-node 1.x as well).
SUITES=(
  "k8s-leaderelection src/lease-lock.test.ts"
  "lease-apiserver src/__tests__/elector-over-http.test.ts src/__tests__/follower-watch-faults.test.ts src/__tests__/kube-watch-client.test.ts src/__tests__/probes-over-http.test.ts src/__tests__/client-process-exit.test.ts src/watch.test.ts src/leases.test.ts src/server.test.ts"
  "simulator src/bad-input/http.test.ts"
)
# The lease-lock test that proves jest loaded the copy LEASEKIT_CLIENT_NODE names.
IDENTITY_TEST="is the copy LEASEKIT_CLIENT_NODE names, or else the one this package resolves"

fail() {
  echo "client-node-2: $*" >&2
  echo "node22 + client-node ${CLIENT_NODE_VERSION}: 0 tests passed, 1 failed"
  exit 1
}

mkdir -p "$SCRATCH"
SCRATCH=$(cd "$SCRATCH" && pwd -P)
case "$SCRATCH/" in "$REPO"/*) fail "the scratch directory $SCRATCH must be outside the repository" ;; esac
NODE22=$SCRATCH/node_modules/node/bin/node
CLIENT_NODE=$SCRATCH/node_modules/@kubernetes/client-node
HOOK=$SCRATCH/client-node-hook.mjs

installed() {
  [ -x "$NODE22" ] && [ "$("$NODE22" --version 2>/dev/null)" = "v$NODE_VERSION" ] &&
    [ "$("$NODE22" -p "require(process.argv[1]).version" "$CLIENT_NODE/package.json" 2>/dev/null)" = "$CLIENT_NODE_VERSION" ]
}

# ---- install (idempotent; a lock keeps two runs from installing into one directory at once)
exec 9>"$SCRATCH/.lock"
command -v flock >/dev/null && flock 9
if ! installed; then
  echo "client-node-2: installing node@$NODE_VERSION and @kubernetes/client-node@$CLIENT_NODE_VERSION into $SCRATCH"
  cat >"$SCRATCH/package.json" <<JSON
{
  "name": "leasekit-client-node-2-scratch",
  "private": true,
  "description": "Written by leasekit's .ci/client-node-2.sh: Node 22 and client-node 2.x for a second test run",
  "dependencies": { "node": "$NODE_VERSION", "@kubernetes/client-node": "$CLIENT_NODE_VERSION" },
  "allowScripts": { "node": true }
}
JSON
  (cd "$SCRATCH" && npm install --no-audit --no-fund --loglevel=error --cache "$SCRATCH/.npm-cache") ||
    fail "npm install into $SCRATCH failed"
fi
installed || fail "after npm install, $NODE22 is not v$NODE_VERSION or $CLIENT_NODE is not $CLIENT_NODE_VERSION"

# The resolve hook for child processes (jest's own module loader uses the jest.config.js mapping).
cat >"$HOOK" <<'JS'
// Written by leasekit's .ci/client-node-2.sh: child processes the tests start resolve
// @kubernetes/client-node to the copy LEASEKIT_CLIENT_NODE names.
import { readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.env.LEASEKIT_CLIENT_NODE;
const url = pathToFileURL(join(dir, JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).main)).href;
registerHooks({
  resolve: (specifier, context, nextResolve) =>
    specifier === '@kubernetes/client-node' ? { url, shortCircuit: true } : nextResolve(specifier, context),
});
JS
flock -u 9 2>/dev/null || true

export PATH="$SCRATCH/node_modules/node/bin:$PATH"
export LEASEKIT_CLIENT_NODE=$CLIENT_NODE
export NODE_OPTIONS="--experimental-vm-modules --disable-warning=ExperimentalWarning --import=$HOOK"

# ---- what will run: Node 22 (>= 22.19, what client-node 2.x's undici needs) and client-node 2.x
node_version=$(node -p 'process.versions.node')
client_node_version=$(node -p "require(process.argv[1]).version" "$CLIENT_NODE/package.json")
node -e '
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major !== 22 || minor < 19) { console.error(`Node ${process.versions.node} is not 22.x >= 22.19`); process.exit(1); }
' || fail "wrong Node"
case "$client_node_version" in 2.*) ;; *) fail "client-node $client_node_version at $CLIENT_NODE is not 2.x" ;; esac
# A child process started from a package directory resolves client-node to the 2.x copy.
child=$(cd packages/lease-apiserver && node --input-type=module -e "console.log(import.meta.resolve('@kubernetes/client-node'))")
case "$child" in "file://$CLIENT_NODE/"*) ;; *) fail "a child process resolves client-node to $child, not into $CLIENT_NODE" ;; esac
[ -f packages/k8s-leaderelection/dist/index.js ] || fail "packages are not built: run pnpm build first"
echo "client-node-2: Node $node_version ($NODE22), @kubernetes/client-node $client_node_version ($CLIENT_NODE)"

# ---- run
status=0
for suite in "${SUITES[@]}"; do
  read -r pkg files <<<"$suite"
  dir=packages/$pkg
  rm -f "$dir/$RESULTS"
  # The configuration jest uses must map the module to the 2.x copy.
  mapped=$(cd "$dir" && node "$REPO/node_modules/jest/bin/jest.js" --showConfig |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const maps = JSON.parse(s).configs.flatMap((c) => c.moduleNameMapper);
      console.log(maps.find(([from]) => from === "^@kubernetes/client-node$")?.[1] ?? "");
    })') || mapped=""
  if [ "$mapped" != "$CLIENT_NODE" ]; then
    echo "client-node-2: $dir/jest.config.js does not map @kubernetes/client-node to LEASEKIT_CLIENT_NODE" >&2
    status=1
    continue
  fi
  echo "+ (cd $dir && jest $files)"
  # shellcheck disable=SC2086 # $files is a list of paths without spaces
  (cd "$dir" && node "$REPO/node_modules/jest/bin/jest.js" --ci --detectOpenHandles --json --outputFile="$RESULTS" $files) || status=1
done

# ---- count (and require the identity test to have passed)
summary=$(node - "$IDENTITY_TEST" "${SUITES[@]}" <<'JS'
const { existsSync, readFileSync } = require('node:fs');
const [identity, ...suites] = process.argv.slice(2);
let passed = 0, failed = 0, identityPassed = false;
for (const suite of suites) {
  const pkg = suite.split(' ')[0];
  const file = `packages/${pkg}/jest-results-node22.json`;
  if (!existsSync(file)) { console.error(`no jest results from packages/${pkg}`); failed++; continue; }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
  for (const t of r.testResults.flatMap((s) => s.assertionResults)) if (t.title === identity && t.status === 'passed') identityPassed = true;
}
if (!identityPassed) { console.error(`the test "${identity}" did not pass: jest may not have loaded client-node 2.x`); failed++; }
console.log(`${passed} ${failed}`);
JS
) || summary="0 1"
read -r passed failed <<<"$summary"
if [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then status=1; fi
if [ "$failed" -gt 0 ]; then
  echo "node22 + client-node $client_node_version: $passed tests passed, $failed failed"
else
  echo "node22 + client-node $client_node_version: $passed tests passed"
fi
echo "client-node-2: ${SECONDS}s"
exit "$status"
