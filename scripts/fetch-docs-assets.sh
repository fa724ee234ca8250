#!/bin/sh
# Fetches the Swagger UI files that /docs serves, so the docs work offline.
# swagger-ui-dist is Apache-2.0: redistribution is allowed with its LICENSE,
# which is kept beside the assets. Re-run to update; commit the result.
set -eu
version="${SWAGGER_UI_VERSION:-5.17.14}"
dest="$(cd "$(dirname "$0")/.." && pwd)/internal/server/docs"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
mkdir -p "$dest"
for f in swagger-ui-bundle.js swagger-ui.css LICENSE; do
	cp "$tmp/package/$f" "$dest/$f"
done
echo "$version" > "$dest/VERSION"
