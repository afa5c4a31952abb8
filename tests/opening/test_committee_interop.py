"""A peer nobody here wrote reads the committee's files: ``openssl cms`` opens a share file with the
member's key, a share release with the session's release key, and verifies the member's statement."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

from bidcrypt.package import make_share_release

from ..conftest import Pki, require_tool
from .committee_support import MEMBERS, committee_session, member_ukey


def _openssl(*args: str | Path) -> bytes:
    result = subprocess.run([require_tool("openssl"), *map(str, args)], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_openssl_opens_the_share_file_and_the_share_release(pki: Pki, tmp_path: Path) -> None:
    committee = committee_session(pki, tmp_path / "session")
    share_file = committee.session.directory / "custody" / "share-1.p7m"
    content = json.loads(
        _openssl(
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-in",
            share_file,
            "-inkey",
            pki.key("bidder-a/enc"),
            "-passin",
            f"pass:{pki.pin}",
        )
    )
    assert (content["session"], content["member"]) == (committee.session_id, 1)
    share = base64.b64decode(content["share"])
    digest = committee.session.ledger.one("SELECT share_digest FROM committee_members WHERE member = 1")
    assert digest is not None and digest["share_digest"] == hashlib.sha256(share).hexdigest()

    with member_ukey(pki, MEMBERS[0]) as ukey:
        body = make_share_release(share_file.read_bytes(), ukey, committee.profile, committee.clock(60))
    (tmp_path / "release.p7m").write_bytes(body)
    _openssl(
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-in",
        tmp_path / "release.p7m",
        "-binary",
        "-inkey",
        committee.session.directory / "keys" / "release.pem",
        "-out",
        tmp_path / "statement.der",
    )
    (tmp_path / "ca.pem").write_bytes(pki.roots.read_bytes() + pki.intermediates.read_bytes())
    statement = json.loads(
        _openssl(
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            tmp_path / "statement.der",
            "-binary",
            "-CAfile",
            tmp_path / "ca.pem",
            "-purpose",
            "any",
        )
    )
    assert statement["type"] == "bidcrypt-share" and statement["share"] == content["share"]
    assert (statement["session"], statement["member"], statement["version"]) == (committee.session_id, 1, 1)
