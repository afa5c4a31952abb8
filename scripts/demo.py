"""The bidcrypt demo: the bid flow on the generated test PKI with SoftHSM2 UKeys.

Everything goes to demo-out/ (made fresh on every run). The commands are
printed as a user would type them; the PIN is passed in the environment
(BIDCRYPT_PIN), never on the command line.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-out"
PKI = ROOT / "fixtures" / "pki"
DOCUMENTS = ROOT / "fixtures" / "documents"
SEALS = ROOT / "fixtures" / "seals"
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
BIDDERS = ("bidder-a", "bidder-b", "bidder-c")

sys.path.insert(0, str(ROOT / "fixtures"))


def step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def bidcrypt(*args: str, env: dict[str, str], expect: int = 0) -> subprocess.CompletedProcess[str]:
    """Run one bidcrypt command, echoing it, and stop the demo if it fails unexpectedly."""
    print("$ bidcrypt " + " ".join(shlex.quote(a) for a in args), flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "bidcrypt", *args], env=env, text=True, capture_output=True, check=False
    )
    sys.stdout.write(result.stdout)
    sys.stdout.write(result.stderr)
    if result.returncode != expect:
        raise SystemExit(f"demo: bidcrypt exited {result.returncode}, expected {expect}")
    return result


def main() -> int:
    import provision_ukey

    index = json.loads((PKI / "index.json").read_text())
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()

    step("1. Provision the UKeys (SoftHSM2 tokens in demo-out/ukeys)")
    config = provision_ukey.provision(OUT / "ukeys", [*BIDDERS, "authority", "bidder-a-signonly"])
    env = dict(
        os.environ, SOFTHSM2_CONF=str(config), BIDCRYPT_PKCS11_MODULE=MODULE, BIDCRYPT_PIN=index["pin"]
    )
    print(f"SOFTHSM2_CONF={config}")

    step("2. The seal-assistant check (签章助手检测) of each bidder's UKey")
    for bidder in BIDDERS:
        code = index["companies"][bidder]["credit_code"]
        bidcrypt("doctor", "--token", f"pkcs11:token={bidder}", "--expect-uscc", code, "--login", env=env)

    step("3. A UKey with only a signing certificate is not ready for bidding")
    bidcrypt("doctor", "--token", "pkcs11:token=bidder-a-signonly", env=env, expect=12)

    step("4. Seal the bid response: company seal (公章) and legal-person seal (法人章), on the UKey")
    code_a = index["companies"]["bidder-a"]["credit_code"]
    company_sealed, sealed = OUT / "bid-response-company.pdf", OUT / "bid-response-sealed.pdf"
    bidcrypt(
        "seal",
        "apply",
        str(DOCUMENTS / "bid-response-bidder-a.pdf"),
        "-o",
        str(company_sealed),
        "--key",
        "pkcs11:token=bidder-a;object=sign",
        "--kind",
        "company",
        "--image",
        str(SEALS / "bidder-a-company.png"),
        "--chain",
        str(PKI / "bidder-a/sign.chain.pem"),
        env=env,
    )
    bidcrypt(
        "seal",
        "apply",
        str(company_sealed),
        "-o",
        str(sealed),
        "--key",
        "pkcs11:token=bidder-a;object=legal",
        "--kind",
        "legal-person",
        "--image",
        str(SEALS / "bidder-a-legal-person.png"),
        "--chain",
        str(PKI / "bidder-a/legal.chain.pem"),
        env=env,
    )

    step("5. Verify the seals: chain to the trusted root, the CRL, the bidder's credit code")
    trust = ["--trust", str(PKI / "trust/roots.pem"), "--crl", str(PKI / "ca/vendor-rsa.crl")]
    bidcrypt("seal", "verify", str(sealed), *trust, "--expect-uscc", code_a, env=env)
    print("# the same document checked against another bidder's credit code is refused:")
    bidcrypt(
        "seal",
        "verify",
        str(sealed),
        *trust,
        "--expect-uscc",
        index["companies"]["bidder-b"]["credit_code"],
        env=env,
        expect=25,
    )

    print("\ndemo: done; outputs are in demo-out/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
