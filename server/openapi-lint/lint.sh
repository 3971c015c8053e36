#!/usr/bin/env bash
# Validates the OpenAPI document with Redocly's linter (pinned in
# package-lock.json). Installs it with `npm ci` on first use.
#   server/openapi-lint/lint.sh server/openapi.json
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
doc="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "$here"
if [ ! -x node_modules/.bin/redocly ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
exec node_modules/.bin/redocly lint --config "$here/redocly.yaml" "$doc"
