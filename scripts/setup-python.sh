#!/usr/bin/env bash
# The project's Python environment (.venv) from the pinned python/requirements.txt: training the sample
# models and the scikit-learn parity suite.
exec bash "$(dirname "${BASH_SOURCE[0]}")/setup-venv.sh" .venv python/requirements.txt scikit-learn numpy
