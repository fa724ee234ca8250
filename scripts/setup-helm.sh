#!/bin/sh
# setup-helm.sh builds helm (pinned, from its Go module) into .cache/bin/helm
# for `make test-deploy` (helm lint, helm template and the strict decoding of
# the rendered manifests). Running it again does nothing once that version
# is there.
set -eu
VERSION=v4.3.2
cd "$(dirname "$0")/.."
if [ -x .cache/bin/helm ] && .cache/bin/helm version --template '{{.Version}}' 2>/dev/null | grep -q "^${VERSION%.*}"; then
	exit 0
fi
GOBIN="$(pwd)/.cache/bin" go install "helm.sh/helm/v4/cmd/helm@$VERSION"
