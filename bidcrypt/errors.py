"""The one error hierarchy of bidcrypt.

Every failure a user must tell apart has its own class with a stable
``code`` (a short kebab-case string that never changes), an English and a
Chinese message template, and optionally a hint saying what to do about it.
The CLI maps classes to exit codes in :mod:`bidcrypt.cli.exit_codes`.

Messages never contain a PIN or password: the classes only ever receive
names, labels, paths and certificate details.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bidcrypt.i18n import Language, pick


class _Params(dict[str, Any]):
    """Format parameters that leave an unknown ``{name}`` visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class BidcryptError(Exception):
    """Root of every error bidcrypt raises on purpose.

    ``detail`` is an optional technical addition (an offset, an algorithm
    OID, a library message) appended to the human message.
    """

    code: ClassVar[str] = "error"
    en: ClassVar[str] = "bidcrypt failed"
    zh: ClassVar[str] = "bidcrypt 执行失败"
    hint_en: ClassVar[str] = ""
    hint_zh: ClassVar[str] = ""

    def __init__(self, detail: str | None = None, **params: Any) -> None:
        self.detail = detail
        self.params = params
        super().__init__(self.message("en"))

    def message(self, language: Language | None = None) -> str:
        """The human message, with the detail if any, in *language* (default: locale)."""
        text = pick(self.en, self.zh, language).format_map(_Params(self.params))
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def hint(self, language: Language | None = None) -> str:
        """What the user can do about it, or an empty string."""
        return pick(self.hint_en, self.hint_zh, language).format_map(_Params(self.params))

    def __str__(self) -> str:
        return self.message()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle by the constructor's arguments, so errors cross process boundaries whole.
        return (_restore, (type(self), self.detail, self.params))

    def to_dict(self, language: Language | None = None) -> dict[str, Any]:
        """A JSON-ready description: code, message, hint and parameters."""
        return {
            "code": self.code,
            "message": self.message(language),
            "hint": self.hint(language),
            "params": {k: str(v) for k, v in self.params.items()},
        }


def _restore(cls: type[BidcryptError], detail: str | None, params: dict[str, Any]) -> BidcryptError:
    return cls(detail, **params)


# --- input and output --------------------------------------------------------------------


class InputError(BidcryptError):
    """A file given to bidcrypt cannot be read or is not what it should be."""

    code = "invalid-input"
    en = "cannot use {path}"
    zh = "无法使用文件 {path}"


class OutputExistsError(BidcryptError):
    """The output path exists and bidcrypt will not overwrite it."""

    code = "output-exists"
    en = "{path} already exists; bidcrypt does not overwrite files"
    zh = "{path} 已存在；bidcrypt 不覆盖已有文件"
    hint_en = "choose another output path or remove the file first"
    hint_zh = "请换一个输出路径，或先删除该文件"


class OutputError(BidcryptError):
    """The output could not be written (disk full, permissions); nothing was left behind."""

    code = "output-failed"
    en = "cannot write {path}"
    zh = "无法写入 {path}"


# --- key sources: PKCS#11 tokens (UKeys) and PKCS#12 files ------------------------------


class KeySourceError(BidcryptError):
    """A key source (UKey or PKCS#12 file) cannot do what was asked."""

    code = "key-source"
    en = "the key source failed"
    zh = "密钥源操作失败"


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


class TokenAbsentError(KeySourceError):
    """No token matching the reference is present (UKey not inserted)."""

    code = "token-absent"
    en = "no token {token} found; is the UKey inserted?"
    zh = "未找到 U-KEY {token}，请插入 U-KEY"
    hint_en = "insert the UKey and check the token label in the URI ({available})"
    hint_zh = "请插入 U-KEY，并核对 URI 中的 token 名称（当前可见：{available}）"


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
    hint_en = "use pkcs11:token=LABEL;object=LABEL?module-path=/path/lib.so or a .p12 path"
    hint_zh = "请使用 pkcs11:token=名称;object=名称?module-path=/路径/lib.so 或 .p12 文件路径"


# --- certificates ----------------------------------------------------------------------


class CertificateError(BidcryptError):
    """A certificate is not fit for the purpose it was given for."""

    code = "certificate"
    en = "certificate {subject} cannot be used"
    zh = "证书 {subject} 不可用"


class CertificateExpiredError(CertificateError):
    """The certificate's validity ended before the time of use."""

    code = "certificate-expired"
    en = "certificate {subject} expired on {not_after}"
    zh = "证书 {subject} 已于 {not_after} 过期"
    hint_en = "renew the certificate with its CA (续期) and use the new one"
    hint_zh = "请到 CA 办理续期，并使用新证书"


class CertificateNotYetValidError(CertificateError):
    """The certificate's validity starts after the time of use."""

    code = "certificate-not-yet-valid"
    en = "certificate {subject} is not valid before {not_before}"
    zh = "证书 {subject} 在 {not_before} 之前无效"
    hint_en = "check the computer's clock, or wait until the certificate becomes valid"
    hint_zh = "请检查电脑时间，或等待证书生效"


class WrongKeyUsageError(CertificateError):
    """The certificate's key usage does not allow this operation."""

    code = "wrong-key-usage"
    en = "certificate {subject} is not allowed for {purpose} (key usage: {usage})"
    zh = "证书 {subject} 不能用于{purpose}（密钥用法：{usage}）"
    hint_en = "use the {wanted} certificate of the UKey"
    hint_zh = "请使用 U-KEY 中的{wanted}证书"


class CertificateUntrustedError(CertificateError):
    """The certificate does not chain to the trusted CAs."""

    code = "certificate-untrusted"
    en = "certificate {subject} does not chain to a trusted CA"
    zh = "证书 {subject} 不是由受信任的 CA 签发"


class CertificateRevokedError(CertificateError):
    """The certificate is listed on its CA's revocation list."""

    code = "certificate-revoked"
    en = "certificate {subject} was revoked on {revoked_at}"
    zh = "证书 {subject} 已于 {revoked_at} 被吊销"


class IdentityMismatchError(CertificateError):
    """The certificate does not belong to the expected company (name or credit code)."""

    code = "identity-mismatch"
    en = "certificate name does not match unit name: certificate has {actual}, expected {expected}"
    zh = "CA 证书名称与当前单位名称不一致：证书为 {actual}，应为 {expected}"
    hint_en = "check the company name and unified social credit code registered for the bidder"
    hint_zh = "请核对单位全称与统一社会信用代码"


class CreditCodeError(BidcryptError):
    """A unified social credit code (统一社会信用代码) is malformed or fails its check."""

    code = "invalid-credit-code"
    en = "invalid unified social credit code {value}"
    zh = "统一社会信用代码 {value} 无效"


# --- envelopes ------------------------------------------------------------------------


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


# --- seals ------------------------------------------------------------------------------


class SealError(BidcryptError):
    """A seal cannot be applied or does not verify."""

    code = "seal"
    en = "the seal cannot be processed"
    zh = "签章无法处理"


class NotAPdfError(SealError):
    """The document to seal is not a PDF."""

    code = "not-a-pdf"
    en = "{path} is not a PDF document"
    zh = "{path} 不是 PDF 文档"


class EncryptedPdfError(SealError):
    """The PDF is password-protected and cannot be sealed."""

    code = "encrypted-pdf"
    en = "{path} is an encrypted PDF"
    zh = "{path} 是加密的 PDF 文档"
    hint_en = "remove the PDF password before sealing"
    hint_zh = "请先去除 PDF 密码再签章"


class KeyCertificateMismatchError(SealError):
    """The private key does not belong to the certificate it was paired with."""

    code = "key-certificate-mismatch"
    en = "the private key does not match certificate {subject}"
    zh = "私钥与证书 {subject} 不匹配"


class SealInvalidError(SealError):
    """A seal on a document does not verify."""

    code = "seal-invalid"
    en = "seal check failed"
    zh = "签章验证未通过"


class DocumentModifiedError(SealError):
    """The document was changed after a seal was applied, by more than further seals."""

    code = "modified-after-sealing"
    en = "the document was changed after {what} was applied"
    zh = "文档在加盖{what}之后被修改"
    hint_en = "ask the bidder for the document as it was sealed"
    hint_zh = "请向投标人索取盖章时的原始文档"


class NoSealError(SealError):
    """The document carries no seal (of the kind required)."""

    code = "no-seal"
    en = "{path} carries no {what}"
    zh = "{path} 没有{what}"


class SealKindMismatchError(SealError):
    """The certificate cannot make this kind of seal (the company's for 公章, a person's for 法人章)."""

    code = "seal-kind-mismatch"
    en = "a {what} cannot be made with certificate {subject}: it is {actual}"
    zh = "不能用证书 {subject} 加盖{what}：该证书属于{actual}"
    hint_en = "use {wanted}"
    hint_zh = "请使用{wanted}"


# --- packages and the re-encryption rule -----------------------------------------------


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


class TimestampError(BidcryptError):
    """The timestamp authority could not be reached or gave an unusable answer."""

    code = "timestamp-failed"
    en = "the timestamp authority {url} failed"
    zh = "时间戳服务 {url} 失败"


# --- opening sessions -----------------------------------------------------------------


class OpeningError(BidcryptError):
    """An opening-session operation is refused."""

    code = "opening"
    en = "the opening session refused the operation"
    zh = "开标会话拒绝了该操作"


class DeadlinePassedError(OpeningError):
    """A submission arrived after the deadline."""

    code = "deadline-passed"
    en = "the submission deadline {deadline} has passed"
    zh = "已超过投标截止时间 {deadline}"


class NotOpeningTimeError(OpeningError):
    """Decryption was asked for before the opening time."""

    code = "not-opening-time"
    en = "bids cannot be opened before {opening_time}"
    zh = "开标时间 {opening_time} 之前不能解密投标文件"


class SessionBusyError(OpeningError):
    """Another process is already working on the session."""

    code = "session-busy"
    en = "another bidcrypt process is working on the session {path}"
    zh = "另一个 bidcrypt 进程正在处理开标会话 {path}"


class ReceiptMismatchError(OpeningError):
    """The stored bytes of a submission no longer match its receipt."""

    code = "receipt-mismatch"
    en = "the submitted file no longer matches its receipt (SHA-256 {actual}, receipt {expected})"
    zh = "投标文件与回执不符（SHA-256 为 {actual}，回执为 {expected}）"


class PackageTooLargeError(InputError):
    """A submitted package is larger than the session accepts."""

    code = "package-too-large"
    en = "{path} is larger than this session accepts ({limit} bytes)"
    zh = "{path} 超过本次开标允许的文件大小（{limit} 字节）"
    hint_en = "check that this is the bid package; the session's limit is set when it is created"
    hint_zh = "请确认这是投标文件包；文件大小上限在创建开标会话时设定"


class UnknownBidderError(OpeningError):
    """A package names a bidder that is not registered in the session."""

    code = "unknown-bidder"
    en = "bidder {credit_code} is not registered for this tender"
    zh = "投标人 {credit_code} 未在本项目中登记"


class WrongTenderError(OpeningError):
    """A package is for another tender or lot than the session's."""

    code = "wrong-tender"
    en = "the package is for {actual}, this session is {expected}"
    zh = "文件包属于 {actual}，本次开标为 {expected}"


class AlreadyBoundError(OpeningError):
    """A certificate is already bound to another bidder (one certificate, one bidder)."""

    code = "certificate-already-bound"
    en = "certificate {subject} is already bound to {bidder}"
    zh = "证书 {subject} 已绑定到 {bidder}"


class NoCertificateBoundError(OpeningError):
    """The bidder has no encryption certificate bound, so the re-encrypt rule cannot be checked."""

    code = "no-certificate-bound"
    en = "bidder {credit_code} has no encryption certificate bound"
    zh = "投标人 {credit_code} 未绑定加密证书"
    hint_en = "bind the bidder's current encryption certificate with `bidcrypt opening bind`"
    hint_zh = "请用 `bidcrypt opening bind` 绑定投标人当前的加密证书"


class WindowClosedError(OpeningError):
    """The decryption window of the session was closed."""

    code = "window-closed"
    en = "the decryption window closed at {closed_at}"
    zh = "解密时间窗口已于 {closed_at} 关闭"


class LedgerError(OpeningError):
    """The session's ledger is damaged, hand-edited or otherwise not one bidcrypt can use."""

    code = "ledger-invalid"
    en = "the ledger of the opening session cannot be used ({path})"
    zh = "开标会话台账无法使用（{path}）"
    hint_en = "restore the session folder from its backup; bidcrypt does not repair a ledger"
    hint_zh = "请从备份恢复开标会话目录；bidcrypt 不修复台账"


class SessionIncompleteError(LedgerError):
    """The session folder was never finished: its creation failed or was interrupted."""

    code = "session-incomplete"
    en = "{path} is an incomplete opening session: its creation did not finish"
    zh = "{path} 是未创建完成的开标会话"
    hint_en = "empty or remove the folder, then create the session again with `bidcrypt opening create`"
    hint_zh = "请清空或删除该目录，再用 `bidcrypt opening create` 重新创建开标会话"


class SessionReadOnlyError(OpeningError):
    """The command changes the session, but the session's folder or ledger is read-only."""

    code = "session-read-only"
    en = "the opening session {path} is read-only, and this command changes it"
    zh = "开标会话 {path} 为只读，此命令需要修改它"
    hint_en = "run the command on a writable copy of the session; `opening report` reads a read-only session"
    hint_zh = "请在可写的会话副本上运行此命令；`opening report` 可读取只读会话"
