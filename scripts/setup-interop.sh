#!/usr/bin/env bash
# The interoperability suite's environment (.venv-interop) from the pinned python/requirements-interop.txt:
# tritonclient[http,grpc] and the KServe SDK, the protocol clients python/interop/ drives against the real
# binary. Kept apart from .venv, whose pins the KServe SDK's dependencies would fight.
exec bash "$(dirname "${BASH_SOURCE[0]}")/setup-venv.sh" .venv-interop python/requirements-interop.txt tritonclient kserve
