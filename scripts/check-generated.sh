#!/usr/bin/env bash
# Fails when generated files are stale: reruns codegen and composition, then diffs them against git.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent codegen >/dev/null
npm run --silent compose >/dev/null
generated=(schema/supergraph.graphql subgraphs/identity/src/generated subgraphs/patients/src/generated)
if ! git diff --exit-code --stat -- "${generated[@]}" || [ -n "$(git status --porcelain --untracked-files=all -- "${generated[@]}")" ]; then
  echo "Generated files are out of date: run \`npm run codegen\` and \`npm run compose\`, and commit the result." >&2
  git status --short -- "${generated[@]}" >&2
  exit 1
fi
echo "Generated files are up to date."
