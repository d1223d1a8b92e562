#!/usr/bin/env bash
# Vendors Swagger UI (npm's swagger-ui-dist) for the service's /docs page:
# only the files the page loads, plus the licence and notice, into
# server/resources/docs/swagger-ui/, and records the version and checksums in
# its VERSION file. The build embeds them (server/CMakeLists.txt).
#   scripts/update-swagger-ui.sh 5.35.0
# Then rebuild, run tst_docspage and tst_browser_docs, and commit the folder.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:?usage: scripts/update-swagger-ui.sh <swagger-ui-dist version>}
dest=server/resources/docs/swagger-ui
files=(swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" > /dev/null)
tar -xzf "$work"/swagger-ui-dist-"$version".tgz -C "$work"
for f in "${files[@]}"; do
    cp "$work/package/$f" "$dest/$f"
done
# No source maps: their comments would make devtools fetch files that are
# not served.
sed -i -e '/^\/\/# sourceMappingURL=/d' "$dest/swagger-ui-bundle.js"
sed -i -e 's|/\*# sourceMappingURL=[^*]*\*/||' "$dest/swagger-ui.css"
{
    echo "swagger-ui-dist $version (npm), vendored by scripts/update-swagger-ui.sh"
    echo "integrity $(npm view "swagger-ui-dist@$version" dist.integrity)"
    (cd "$dest" && sha256sum "${files[@]}")
} > "$dest/VERSION"
cat "$dest/VERSION"
