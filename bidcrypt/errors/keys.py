"""Errors of the key sources: PKCS#11 tokens (UKeys) and PKCS#12 files."""

from __future__ import annotations

from bidcrypt.errors.base import BidcryptError

__all__ = [
    "CertificateMissingError",
    "CryptoLibraryError",
    "KeyNotFoundError",
    "KeyRefError",
    "KeySourceError",
    "MechanismUnsupportedError",
    "ModuleLoadError",
    "ModuleMissingError",
    "PinFinalTryError",
    "PinIncorrectError",
    "PinLockedError",
    "PinUnavailableError",
    "SkfApplicationMissingError",
    "SkfCertificateMissingError",
    "SkfContainerMissingError",
    "SkfLibraryLoadError",
    "SkfLibraryMissingError",
    "TokenAbsentError",
    "TokenError",
    "TokenRemovedError",
]


class KeySourceError(BidcryptError):
    """A key source (UKey, PKCS#12 file or PEM key file) cannot do what was asked."""

    code = "key-source"
    en = "the key source failed"
    zh = "密钥源操作失败"


class CryptoLibraryError(KeySourceError):
    """The system's OpenSSL 3 library (libcrypto), which does SM2, cannot be loaded: the machine's fault."""

    code = "crypto-library-missing"
    en = "cannot load the system's OpenSSL 3 library (libcrypto), which SM2 needs"
    zh = "无法加载系统的 OpenSSL 3 库（libcrypto），SM2 算法需要它"
    hint_en = (
        "install OpenSSL 3 (Debian: apt install libssl3; Windows: libcrypto-3-x64.dll), "
        "or give its path in BIDCRYPT_LIBCRYPTO"
    )
    hint_zh = (
        "请安装 OpenSSL 3（Debian：apt install libssl3；Windows：libcrypto-3-x64.dll），"
        "或用环境变量 BIDCRYPT_LIBCRYPTO 指定其路径"
    )


class ModuleLoadError(KeySourceError):
    """The PKCS#11 module (the UKey driver) cannot be loaded."""

    code = "module-not-found"
    en = "cannot load the PKCS#11 module {module}"
    zh = "无法加载 PKCS#11 驱动模块 {module}"
    hint_en = "install the UKey driver, or give its path with --module or BIDCRYPT_PKCS11_MODULE"
    hint_zh = "请安装 UKey 驱动，或用 --module 或环境变量 BIDCRYPT_PKCS11_MODULE 指定驱动路径"


class ModuleMissingError(KeySourceError):
    """No PKCS#11 module was named anywhere."""

    code = "module-not-set"
    en = "no PKCS#11 module given"
    zh = "未指定 PKCS#11 驱动模块"
    hint_en = "add ?module-path=... to the pkcs11: URI, or use --module or BIDCRYPT_PKCS11_MODULE"
    hint_zh = "请在 pkcs11: URI 中加入 ?module-path=...，或使用 --module 或 BIDCRYPT_PKCS11_MODULE"


class SkfLibraryLoadError(ModuleLoadError):
    """The SKF library (the UKey vendor's GM/T 0016 driver) cannot be loaded."""

    code = "skf-library-not-found"
    en = "cannot load the SKF library {module}"
    zh = "无法加载 SKF 驱动库 {module}"
    hint_en = "install the UKey driver, or give its path with ?module-path=, --module or BIDCRYPT_SKF_MODULE"
    hint_zh = "请安装 UKey 驱动，或用 ?module-path=、--module 或环境变量 BIDCRYPT_SKF_MODULE 指定驱动路径"


class SkfLibraryMissingError(ModuleMissingError):
    """No SKF library was named anywhere."""

    code = "skf-library-not-set"
    en = "no SKF library given"
    zh = "未指定 SKF 驱动库"
    hint_en = "add ?module-path=... to the skf: reference, or use --module or BIDCRYPT_SKF_MODULE"
    hint_zh = "请在 skf: 引用中加入 ?module-path=...，或使用 --module 或 BIDCRYPT_SKF_MODULE"


class TokenAbsentError(KeySourceError):
    """No token matching the reference is present (UKey not inserted)."""

    code = "token-absent"
    en = "no token {token} found; is the UKey inserted?"
    zh = "未找到 U-KEY {token}，请插入 U-KEY"
    hint_en = "insert the UKey and check the token label in the URI ({available})"
    hint_zh = "请插入 U-KEY，并核对 URI 中的 token 名称（当前可见：{available}）"


class TokenRemovedError(TokenAbsentError):
    """The UKey was removed while in use (SKF's `SAR_DEVICE_REMOVED`): a batch stops, and can be resumed."""

    code = "token-removed"
    en = "the UKey {token} was removed while in use"
    zh = "U-KEY {token} 在使用中被拔出"
    hint_en = "insert the UKey again and run the command again; an opening resumes where it stopped"
    hint_zh = "请重新插入 U-KEY 后再次运行；开标会从中断处继续"


class KeyNotFoundError(KeySourceError):
    """The token or file holds no certificate or private key matching the reference."""

    code = "key-not-found"
    en = "no {what} matching {ref} on the key source"
    zh = "密钥源中未找到与 {ref} 匹配的{what}"
    hint_en = "list what the UKey holds with `bidcrypt doctor --token ...`"
    hint_zh = "可用 `bidcrypt doctor --token ...` 查看 U-KEY 中的证书"


class CertificateMissingError(KeyNotFoundError):
    """The UKey lacks one of the two certificates a bidder needs (signing, encryption)."""

    code = "certificate-missing"
    en = "{source} holds no valid {purpose} certificate"
    zh = "{source} 中没有有效的{purpose}证书"
    hint_en = (
        "a bidding UKey carries a signing and an encryption certificate; ask its CA to issue the missing one"
    )
    hint_zh = "投标用 U-KEY 应有签名证书和加密证书（双证书），请联系 CA 补发"


class SkfApplicationMissingError(KeyNotFoundError):
    """The SKF UKey has no application (the one the reference names, or any at all)."""

    code = "skf-no-application"
    en = "the UKey {source} has no application{wanted}; present: {available}"
    zh = "当前 UKey 不存在应用{wanted}：{source}，现有应用：{available}"
    hint_en = "check application= in the skf: reference, or ask the CA to initialise the UKey"
    hint_zh = "请核对 skf: 引用中的 application=，或联系 CA 初始化 UKey"


class SkfContainerMissingError(KeyNotFoundError):
    """The SKF application has no container (the one the reference names, or any at all)."""

    code = "skf-no-container"
    en = "no container{wanted} in the application {application} of {source}; present: {available}"
    zh = "没有获取到容器{wanted}：{source} 的应用 {application}，现有容器：{available}"
    hint_en = "check container= in the skf: reference, or ask the CA to write the certificates again"
    hint_zh = "请核对 skf: 引用中的 container=，或联系 CA 重新写入证书"


class SkfCertificateMissingError(CertificateMissingError):
    """An SKF container lacks its signing or encryption certificate (`SAR_CERTNOTFOUNTERR`)."""

    code = "skf-no-certificate"
    en = "the container {container} of {source} holds no {purpose} certificate"
    zh = "未获取到{purpose}证书：{source} 的容器 {container}"


class PinIncorrectError(KeySourceError):
    """The PIN or password was refused. bidcrypt never tries again by itself."""

    code = "pin-incorrect"
    en = "the PIN or password was refused by {source}"
    zh = "{source} 的 PIN 码或密码不正确"
    hint_en = "check the PIN; bidcrypt did not retry, because a UKey locks after a few wrong PINs"
    hint_zh = "请核对 PIN 码；为避免 U-KEY 被锁，bidcrypt 不会自动重试"


class PinLockedError(KeySourceError):
    """The token's user PIN is locked; no login was attempted."""

    code = "pin-locked"
    en = "the PIN of {source} is locked"
    zh = "{source} 的 PIN 码已被锁定"
    hint_en = "ask the CA that issued the UKey to unlock it; bidcrypt did not try to log in"
    hint_zh = "请联系发证 CA 解锁；bidcrypt 未尝试登录"


class PinFinalTryError(KeySourceError):
    """The next wrong PIN locks the token, and the PIN did not come from a person."""

    code = "pin-final-try"
    en = "one more wrong PIN locks {source}; refusing to use a PIN from the environment"
    zh = "再输错一次 PIN 码 {source} 将被锁定；不使用环境变量中的 PIN 码"
    hint_en = "run the command on a terminal and type the PIN yourself"
    hint_zh = "请在终端中运行并亲自输入 PIN 码"


class PinUnavailableError(KeySourceError):
    """No PIN was given in the environment and there is no terminal to ask on."""

    code = "pin-unavailable"
    en = "no PIN or password available for {source}"
    zh = "未提供 {source} 的 PIN 码或密码"
    hint_en = "set BIDCRYPT_PIN (or the variable named by --pin-env), or run on a terminal"
    hint_zh = "请设置环境变量 BIDCRYPT_PIN（或 --pin-env 指定的变量），或在终端中运行"


class TokenError(KeySourceError):
    """The token reported a failure during an operation (removed, broken, refused)."""

    code = "token-error"
    en = "the token {source} failed"
    zh = "U-KEY {source} 操作失败"


class MechanismUnsupportedError(KeySourceError):
    """The token or key cannot perform the requested operation."""

    code = "mechanism-unsupported"
    en = "{source} cannot perform {operation}"
    zh = "{source} 不支持 {operation}"


class KeyRefError(KeySourceError):
    """A key reference (pkcs11: URI or file path) is malformed."""

    code = "bad-key-reference"
    en = "invalid key reference {ref}"
    zh = "密钥引用 {ref} 无效"
    hint_en = (
        "use pkcs11:token=LABEL;object=LABEL?module-path=/path/lib.so, "
        "skf:device=NAME;application=NAME;container=NAME?module-path=/path/libskf.so, "
        "a .p12 path or a PEM key file"
    )
    hint_zh = (
        "请使用 pkcs11:token=名称;object=名称?module-path=/路径/lib.so、"
        "skf:device=名称;application=名称;container=名称?module-path=/路径/libskf.so、"
        ".p12 文件路径或 PEM 私钥文件"
    )
