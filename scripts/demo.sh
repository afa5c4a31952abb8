#!/usr/bin/env bash
# Set everything up, then run the demo on generated certificates and SoftHSM2 UKeys (in demo-out/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
