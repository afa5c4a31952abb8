"""Provision a SoftHSM2 token whose signing certificate does not belong to the key beside it.

    python tests/seal/mismatched_token.py DIR    # prints the path of DIR/softhsm2.conf

The story: after a change of company name (变更) the new certificate
``bidder-a/sign-changed`` was written into the UKey's ``sign`` container, but
the old key ``bidder-a/sign`` stayed. Run in its own process: SoftHSM2 reads
``SOFTHSM2_CONF`` once per process, and the test session already uses another.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
sys.path.insert(0, str(FIXTURES))

import provision_ukey  # noqa: E402 - found through the path set just above

TOKEN = "mismatched"


def provision(directory: Path) -> Path:
    """Create the token in *directory*; the path of its softhsm2.conf."""
    index = json.loads((FIXTURES / "pki" / "index.json").read_text())
    config = provision_ukey.write_config(directory)
    os.environ["SOFTHSM2_CONF"] = str(config)
    provision_ukey.init_tokens(provision_ukey.SOFTHSM_MODULE, [TOKEN], index["so_pin"])
    index["certificates"]["mismatched"] = {
        "certificate": "bidder-a/sign-changed.pem",
        "key": "bidder-a/sign.key.pem",
    }
    objects = [{"certificate": "mismatched", "label": "sign", "id": "01"}]
    provision_ukey.import_objects(provision_ukey.SOFTHSM_MODULE, TOKEN, objects, index)
    return config


if __name__ == "__main__":
    print(provision(Path(sys.argv[1])))
