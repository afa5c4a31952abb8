"""Errors of CMS envelopes."""

from __future__ import annotations

from bidcrypt.errors.base import BidcryptError

__all__ = [
    "EnvelopeError",
    "IntegrityError",
    "KeyTransportUnsupportedError",
    "MalformedEnvelopeError",
    "PaddingError",
    "TokenCipherUnsupportedError",
    "UnsupportedAlgorithmError",
    "WrongKeyError",
]


class EnvelopeError(BidcryptError):
    """A CMS envelope cannot be built or opened."""

    code = "envelope"
    en = "the envelope cannot be processed"
    zh = "数字信封无法处理"


class MalformedEnvelopeError(EnvelopeError):
    """The input is not a well-formed CMS envelope (truncated, garbled, over-long, wrong type)."""

    code = "malformed-envelope"
    en = "not a valid encrypted file"
    zh = "不是有效的加密文件"


class UnsupportedAlgorithmError(EnvelopeError):
    """The envelope uses an algorithm or structure bidcrypt does not implement."""

    code = "unsupported-algorithm"
    en = "unsupported algorithm {algorithm}"
    zh = "不支持的算法 {algorithm}"


class KeyTransportUnsupportedError(UnsupportedAlgorithmError):
    """The file's key is wrapped with a key transport that this key (UKey) cannot undo."""

    code = "key-transport-unsupported"
    en = "the file's key is wrapped with {algorithm}, which {source} cannot undo"
    zh = "文件密钥采用 {algorithm} 封装，{source} 无法解开"
    hint_en = (
        "the file must be encrypted again with a key transport this UKey decrypts "
        "(`bidcrypt doctor --login` lists them; every UKey decrypts PKCS#1 v1.5)"
    )
    hint_zh = (
        "需改用该 U-KEY 支持的密钥封装方式重新加密"
        "（`bidcrypt doctor --login` 可列出；所有 U-KEY 都支持 PKCS#1 v1.5）"
    )


class TokenCipherUnsupportedError(UnsupportedAlgorithmError):
    """The key decrypts content only on its token (an SKF UKey's standard path), which cannot do this file."""

    code = "token-cipher-unsupported"
    en = (
        "{source} decrypts the content on the UKey, which can only decrypt CBC content (AES-CBC, SM4-CBC) "
        "whose key is wrapped with SM2 or RSA PKCS#1 v1.5; this file uses {algorithm}"
    )
    zh = (
        "{source} 须在 U-KEY 内解密内容，仅支持 CBC 模式（AES-CBC、SM4-CBC）且内容密钥以 SM2 或 "
        "RSA PKCS#1 v1.5 封装的文件；该文件使用 {algorithm}"
    )
    hint_en = (
        "open it with a UKey library that exports the private-key decryption (`bidcrypt doctor` says which "
        "path a UKey offers), or have the file encrypted with AES-CBC or SM4-CBC and PKCS#1 v1.5 or SM2"
    )
    hint_zh = (
        "请使用提供私钥解密接口的 U-KEY 驱动（`bidcrypt doctor` 可显示 U-KEY 支持的解密方式），"
        "或要求以 AES-CBC 或 SM4-CBC 及 PKCS#1 v1.5 或 SM2 重新加密该文件"
    )


class WrongKeyError(EnvelopeError):
    """None of the envelope's recipients can be opened with the given key."""

    code = "wrong-key"
    en = "the file cannot be opened with this key"
    zh = "该文件无法用此密钥解密"
    hint_en = "the file was encrypted to another certificate; use the UKey it was encrypted to"
    hint_zh = "该文件是用其他证书加密的，请使用加密时对应的 U-KEY"


class IntegrityError(EnvelopeError):
    """Decryption ran but the content failed its integrity check: the file was altered."""

    code = "tampered"
    en = "the encrypted file was altered or damaged (integrity check failed)"
    zh = "加密文件已被篡改或损坏（完整性校验失败）"


class PaddingError(IntegrityError):
    """The AES-CBC padding is wrong: a wrong key or a damaged file (CBC has no integrity check)."""

    code = "bad-padding"
    en = (
        "the decrypted content does not end in valid padding: the content key is wrong or the file is "
        "damaged (AES-CBC has no integrity check, so a change elsewhere would not be noticed)"
    )
    zh = "解密后的内容填充无效：内容密钥错误或文件已损坏（AES-CBC 没有完整性校验，其他位置的改动无法发现）"
