#!/usr/bin/env bash
# Set everything up, then run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# One pytest worker per core (BIDCRYPT_TEST_WORKERS=0 runs the tests in this process, one after another);
# a test file's tests stay together on one worker, with its module fixtures.
exec .venv/bin/python -m pytest -q -n "${BIDCRYPT_TEST_WORKERS:-auto}" --dist loadfile "$@"
