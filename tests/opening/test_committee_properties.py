"""Property tests of the committee's shares: Shamir round trips, and parsers that never crash."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidcrypt.errors import BidcryptError, ReleaseMalformedError
from bidcrypt.package import (
    MemberShare,
    canonical_json,
    combine_shares,
    make_share_release,
    parse_share_file,
    read_share_release,
    share_file_content,
    share_of_statement,
    share_statement,
    split_kek,
)

from ..conftest import Pki
from ..release_support import Profile, bidder_ukey, profile_for, release_keys

MOMENT = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
SESSION = "0123456789abcdef0123456789abcdef"


@settings(max_examples=25, deadline=None)
@given(kek=st.binary(min_size=32, max_size=32), n=st.integers(2, 6), data=st.data())
def test_any_k_shares_rebuild_the_kek_and_fewer_do_not(kek: bytes, n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(2, n))
    shares = split_kek(kek, k, n)
    assert sorted(shares) == list(range(1, n + 1)) and all(len(s) == 32 for s in shares.values())
    for chosen in itertools.islice(itertools.combinations(sorted(shares), k), 5):
        assert combine_shares({i: shares[i] for i in chosen}, k) == kek
    fewer = {i: shares[i] for i in list(shares)[: k - 1]}
    with pytest.raises(ValueError):
        combine_shares(fewer, k)
    if k > 2:  # k-1 shares combined as if they were enough give another key
        assert combine_shares(fewer, k - 1) != kek


@given(
    session=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=128),
    member=st.integers(1, 255),
    share=st.binary(min_size=32, max_size=32),
)
def test_share_file_and_statement_round_trip(session: str, member: int, share: bytes) -> None:
    assert parse_share_file(share_file_content(session, member, share)) == MemberShare(session, member, share)
    payload = share_statement(MemberShare(session, member, share), MOMENT)
    assert share_of_statement(payload) == MemberShare(session, member, share, MOMENT)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
FIELDS = ["member", "session", "share", "time", "type", "version"]


@given(st.dictionaries(st.sampled_from([*FIELDS, "extra"]), JSON, max_size=7))
def test_the_share_statement_parser_refuses_cleanly(payload: dict[str, Any]) -> None:
    with contextlib.suppress(ReleaseMalformedError):
        share_of_statement(payload)


@given(st.data())
def test_a_valid_statement_with_one_field_changed_is_refused(data: st.DataObject) -> None:
    payload = share_statement(MemberShare(SESSION, 2, bytes(range(32))), MOMENT)
    name = data.draw(st.sampled_from(FIELDS))
    value = data.draw(JSON)
    if value == payload[name] or (name == "member" and type(value) is int and 1 <= value <= 255):
        return
    if (
        name == "session"
        and isinstance(value, str)
        and value.isascii()
        and value.isprintable()
        and value.strip()
    ):
        return
    changed = {**payload, name: value}
    with pytest.raises(ReleaseMalformedError):
        share_of_statement(changed)


@given(st.binary(max_size=300))
def test_the_share_file_parser_refuses_cleanly(content: bytes) -> None:
    with contextlib.suppress(ReleaseMalformedError):
        parse_share_file(content)


@given(st.dictionaries(st.sampled_from(["member", "session", "share", "x"]), JSON, max_size=4))
def test_share_files_of_json_refuse_cleanly(payload: dict[str, Any]) -> None:
    with contextlib.suppress(ReleaseMalformedError):
        parse_share_file(canonical_json(payload))


@pytest.fixture(scope="module")
def body(pki: Pki) -> tuple[bytes, Profile]:
    """A real share release of member 1 of a session (a share file made here, as entrust makes it)."""
    from bidcrypt.certs import load_certificate
    from bidcrypt.envelope import EnvelopeBuilder

    profile = profile_for(pki, session=SESSION)
    share_file = (
        EnvelopeBuilder()
        .add_recipient(load_certificate(pki.cert("bidder-a/enc")))
        .encrypt_bytes(share_file_content(SESSION, 1, bytes(range(32))))
    )
    with bidder_ukey(pki, "bidder-a") as ukey:
        return make_share_release(share_file, ukey, profile), profile


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bit_flips_and_cuts_of_a_share_release_never_crash(
    pki: Pki, body: tuple[bytes, Profile], data: st.DataObject
) -> None:
    original, _ = body
    if data.draw(st.booleans()):
        position = data.draw(st.integers(0, len(original) * 8 - 1))
        mutated = bytearray(original)
        mutated[position // 8] ^= 1 << (position % 8)
        damaged = bytes(mutated)
    else:
        damaged = original[: data.draw(st.integers(0, len(original) - 1))]
    with release_keys(pki) as keys:
        try:
            released = read_share_release(damaged, keys, session=SESSION)
        except BidcryptError:
            return
    assert released.share == MemberShare(SESSION, 1, bytes(range(32)), released.share.time)


def test_the_real_share_release_reads_back(pki: Pki, body: tuple[bytes, Profile]) -> None:
    with release_keys(pki) as keys:
        released = read_share_release(body[0], keys, session=SESSION)
    assert (released.share.session, released.share.member, released.share.share) == (
        SESSION,
        1,
        bytes(range(32)),
    )
    assert released.signer.subject.rfc4514_string().startswith("CN=湖北楚天建设工程有限公司")
