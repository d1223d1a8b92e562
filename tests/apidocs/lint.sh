#!/usr/bin/env bash
# tst_openapi_lint: the OpenAPI document the service serves (written by
# mvs_openapi_document, the same Server::OpenApi::document() that
# tst_openapi compares with GET /api/v1/openapi.json) linted by Redocly's
# CLI, pinned in package-lock.json (npm ci --prefix tests/apidocs).
#   tests/apidocs/lint.sh <mvs_openapi_document binary> [node]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$1" > "$work/openapi.json"
cd "$here"
# No telemetry, no update check: nothing leaves the machine.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true REDOCLY_SUPPRESS_NOTIFICATIONS=true DO_NOT_TRACK=1 \
    "${2:-node}" node_modules/@redocly/cli/bin/cli.js lint --config redocly.yaml "$work/openapi.json"
