"""Errors of bid packages and the re-encryption rule."""

from __future__ import annotations

from bidcrypt.errors.base import BidcryptError
from bidcrypt.errors.files import InputError

__all__ = [
    "ManifestError",
    "OldKeyUnavailableError",
    "PackageError",
    "PathRefusedError",
    "ProfileError",
    "ProfileMismatchError",
    "ReencryptionRequiredError",
    "UnsafePathError",
]


class PackageError(BidcryptError):
    """A bid package cannot be built, checked or unpacked."""

    code = "package"
    en = "the bid package cannot be processed"
    zh = "投标文件包无法处理"


class ReencryptionRequiredError(PackageError):
    """The package is encrypted to a key the bidder no longer holds."""

    code = "reencryption-required"
    en = "re-encryption required: {reason}"
    zh = "需要重新加密：{reason}"
    hint_en = "run `bidcrypt reencrypt` with the old UKey, or pack again from the sources"
    hint_zh = "请用原 U-KEY 执行 `bidcrypt reencrypt`，或重新打包加密"


class OldKeyUnavailableError(PackageError):
    """Re-encryption needs the old key, and the key given cannot open the package."""

    code = "old-key-unavailable"
    en = "the key given cannot open the package, so it cannot be re-encrypted"
    zh = "所给密钥无法打开该文件包，因此不能重新加密"
    hint_en = (
        "re-encryption needs the old UKey; if it is lost, rebuild the package from its sources with "
        "`bidcrypt pack` and the new certificate"
    )
    hint_zh = "重新加密需要原 U-KEY；若原 U-KEY 已丢失，请用 `bidcrypt pack` 和新证书从原始文件重新打包"


class UnsafePathError(PackageError):
    """A path inside a package would escape the output folder or is otherwise unsafe."""

    code = "unsafe-path"
    en = "unsafe path in package: {path}"
    zh = "文件包中的路径不安全：{path}"


class PathRefusedError(UnsafePathError):
    """The file system refuses a path of the package (name too long, bytes it cannot store)."""

    code = "path-refused"
    en = "the file system here cannot hold {path} from the package"
    zh = "此处的文件系统无法存放文件包中的 {path}"
    hint_en = "the package's names are within the format's limits; unpack to a folder with a shorter path"
    hint_zh = "文件包中的名称符合格式限制；请解包到路径较短的文件夹"


class ManifestError(PackageError):
    """The signed manifest is missing, malformed, or disagrees with the content."""

    code = "manifest-invalid"
    en = "manifest check failed"
    zh = "文件清单校验失败"


class ProfileError(InputError):
    """A session profile (``profile.p7s``) is not one: bad signature, wrong type or version, a bad field."""

    code = "profile-invalid"
    en = "not a valid session profile"
    zh = "不是有效的开标会话配置文件"
    hint_en = "ask the tendering agency for the session profile it published, and check its SHA-256"
    hint_zh = "请向招标代理机构索取其发布的会话配置文件，并核对其 SHA-256"


class ProfileMismatchError(InputError):
    """``pack --profile`` was also given a tender, lot, authority or transport the profile contradicts."""

    code = "profile-mismatch"
    en = "{what} {actual} contradicts the session profile, which says {expected}"
    zh = "{what} {actual} 与会话配置文件不符，配置文件为 {expected}"
    hint_en = "leave the option out: the profile gives it"
    hint_zh = "请省略该选项：会话配置文件已给出"
