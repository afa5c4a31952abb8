"""The interop peers agree with each other and with openssl: the harness itself is wired right.

These checks need no bidcrypt code. They make sure that a failure in ``tests/gm/test_sm2_interop.py``
points at bidcrypt, not at a peer wrapper (an order swapped, a prefix lost, an ID not passed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from asn1crypto import pem
from asn1crypto.core import Integer, OctetString, Sequence

from .peers import (
    DEFAULT_ID,
    ORDERS,
    BouncyCastle,
    Order,
    Sm2Chain,
    Sm2Keys,
    SmCrypto,
    decrypt_command,
    decrypt_op,
    encrypt_command,
    encrypt_op,
    openssl_decrypt,
    openssl_sign,
    openssl_verify,
    sign_command,
    verdicts,
    verify_command,
)

PLAINTEXTS = [b"\x00", os.urandom(16), os.urandom(32), os.urandom(1000)]
OTHER_ID = b"alice@example.cn"


def flip_last_signature_byte(certificate: Path) -> bytes:
    """The certificate in DER with the last byte of its signature value changed."""
    _, _, der = pem.unarmor(certificate.read_bytes())
    return der[:-1] + bytes([der[-1] ^ 0x01])


class _Sm2Cipher(Sequence):  # type: ignore[misc]
    _fields: ClassVar = [("x", Integer), ("y", Integer), ("hash", OctetString), ("ciphertext", OctetString)]


def test_sm_crypto_and_bouncycastle_read_each_others_ciphertexts(
    bouncycastle: BouncyCastle, sm_crypto: SmCrypto, sm2_keys: Sm2Keys
) -> None:
    cases = [(order, plaintext) for order in ORDERS for plaintext in PLAINTEXTS]
    from_node = [a.data() for a in sm_crypto.batch([encrypt_op(o, sm2_keys.point, p) for o, p in cases])]
    private, public = sm2_keys.private, sm2_keys.public
    answers = bouncycastle.batch(
        [decrypt_command(o, private, b"\x04" + c) for (o, _), c in zip(cases, from_node, strict=True)]
        + [
            decrypt_command(_other(o), private, b"\x04" + c)
            for (o, _), c in zip(cases, from_node, strict=True)
        ]
        + [encrypt_command(o, public, p) for o, p in cases]
    )
    n = len(cases)
    assert [a.data() for a in answers[:n]] == [p for _, p in cases]
    assert not any(a.ok for a in answers[n : 2 * n])  # the other order fails C3's check
    from_java = [a.data() for a in answers[2 * n :]]
    assert all(c[0] == 4 and len(c) == 97 + len(p) for c, (_, p) in zip(from_java, cases, strict=True))
    ops = [decrypt_op(o, sm2_keys, c[1:]) for (o, _), c in zip(cases, from_java, strict=True)]
    assert [a.data() for a in sm_crypto.batch(ops)] == [p for _, p in cases]


def _other(order: Order) -> Order:
    return ORDERS[1 - ORDERS.index(order)]


def test_signatures_verify_across_bouncycastle_sm_crypto_and_openssl(
    bouncycastle: BouncyCastle, sm_crypto: SmCrypto, sm2_keys: Sm2Keys
) -> None:
    message = os.urandom(300)
    commands = [sign_command(sm2_keys.private, message, distid) for distid in (None, DEFAULT_ID, OTHER_ID)]
    by_java = [answer.data() for answer in bouncycastle.batch(commands)]
    by_node = sm_crypto.sign(sm2_keys, [message]) + sm_crypto.sign(sm2_keys, [message], OTHER_ID)
    by_openssl = [openssl_sign(sm2_keys.private, message), openssl_sign(sm2_keys.private, message, OTHER_ID)]
    default_id = [by_java[0], by_java[1], by_node[0], by_openssl[0]]  # by_java[0]: SM2Signer's default ID
    other_id = [by_java[2], by_node[1], by_openssl[1]]

    pairs = [(message, s) for s in default_id + other_id] + [(message + b"!", default_id[2])]
    expected = [True] * 4 + [False] * 4
    commands = [
        verify_command(sm2_keys.public, m, s, distid) for distid in (DEFAULT_ID, None) for m, s in pairs
    ]
    assert verdicts(bouncycastle.batch(commands)) == expected + expected
    assert sm_crypto.verify(sm2_keys.point, pairs) == expected
    assert sm_crypto.verify(sm2_keys.point, pairs, OTHER_ID) == [False] * 4 + [True] * 3 + [False]
    assert [openssl_verify(sm2_keys.public, message, s) for s in default_id + other_id] == expected[:7]
    assert all(openssl_verify(sm2_keys.public, message, s, OTHER_ID) for s in other_id)


def test_openssl_opens_what_bouncycastle_writes_after_a_der_wrap(
    bouncycastle: BouncyCastle, sm2_keys: Sm2Keys
) -> None:
    """openssl speaks only DER SM2Cipher: wrapping BC's raw C1C3C2 by hand must open (a sanity check of
    the byte layout the tests feed to bidcrypt's converters)."""
    plaintext = os.urandom(48)
    raw = bouncycastle.encrypt("C1C3C2", sm2_keys.public, [plaintext])[0]
    x, y, c3, c2 = raw[1:33], raw[33:65], raw[65:97], raw[97:]
    der = _Sm2Cipher(
        {"x": int.from_bytes(x, "big"), "y": int.from_bytes(y, "big"), "hash": c3, "ciphertext": c2}
    )
    assert openssl_decrypt(sm2_keys.private, der.dump()) == plaintext


def test_bouncycastle_cms_signed_data_and_chain_validation(
    bouncycastle: BouncyCastle, sm2_chain: Sm2Chain, tmp_path: Path
) -> None:
    directory = tmp_path
    content = directory / "content.bin"
    content.write_bytes(os.urandom(5000))
    tampered = directory / "tampered.bin"
    tampered.write_bytes(content.read_bytes() + b"x")
    attached, detached = directory / "attached.p7s", directory / "detached.p7s"
    key, leaf = sm2_chain.leaf_keys.private, sm2_chain.leaf
    broken = directory / "broken-leaf.der"
    broken.write_bytes(flip_last_signature_byte(leaf))
    answers = bouncycastle.batch(
        [
            ("cms-sign", key, leaf, content, attached),
            ("cms-sign", key, leaf, content, detached, "detached"),
            ("cms-verify", attached, leaf),
            ("cms-verify", detached, leaf, content),
            ("cms-verify", detached, leaf, tampered),
            ("cms-verify", attached, sm2_chain.root),
            ("chain", "now", sm2_chain.root, leaf, sm2_chain.intermediate),
            ("chain", "now", sm2_chain.intermediate, leaf),
            ("chain", "now", sm2_chain.root, leaf),
            ("chain", "now", sm2_chain.root, broken, sm2_chain.intermediate),
            ("chain", "now", leaf, leaf),
        ]
    )
    assert [a.ok for a in answers[:6]] == [True, True, True, True, False, False]
    assert [a.value for a in answers[2:4]] == ["1", "1"]
    assert answers[6].value == "valid"
    assert answers[7].value == "valid"  # the issuing CA as the trust anchor
    assert answers[8].value.startswith("invalid")  # the issuing CA missing
    assert answers[9].value.startswith("invalid")  # the leaf's signature broken
    assert answers[10].value.startswith("invalid")  # a leaf is no CA
