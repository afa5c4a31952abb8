"""Bid packages (``.bid``): sealed, signed and encrypted response bundles, and the re-encrypt rule.

The format is documented in docs/package-format.md. The operations::

    result = pack(folder, Path("bid.bid"), tender="HBGP-2026-001", signer=sign_entry,
                  encrypt_to=[bidder_encryption_cert, authority_cert], summary=load_summary_file(toml))
    info = read_package_info(Path("bid.bid"))               # no key: attributes, recipients
    verdict = check_package(info, current_encryption_cert)   # the re-encrypt rule
    reencrypt_package(Path("bid.bid"), Path("new.bid"), old_ukey, new_cert)
    report = unpack(Path("bid.bid"), Path("out"), ukey, trust)
    report = await async_unpack(Path("bid.bid"), Path("out"), ukey, trust)  # from a coroutine
"""

from bidcrypt.package.attributes import PackageAttributes
from bidcrypt.package.info import PackageInfo, read_package_info
from bidcrypt.package.manifest import Bidder, FileEntry, Manifest, Role, Summary
from bidcrypt.package.pack import PackResult, pack
from bidcrypt.package.profile import (
    CUSTODY_MODELS,
    MAX_PROFILE_SIZE,
    PROFILE_TYPE,
    PROFILE_VERSION,
    SESSION_SUITES,
    SUITE_TRANSPORTS,
    CommitteeMember,
    Custody,
    SessionProfile,
    profile_json,
    profile_sha256,
    read_profile,
    sign_profile,
    suite_of,
)
from bidcrypt.package.profile_pack import ProfileTarget, profile_target
from bidcrypt.package.recipients import RecipientChoice
from bidcrypt.package.reencrypt import ReencryptPackageResult, reencrypt_package
from bidcrypt.package.release import (
    MAX_RELEASE,
    Release,
    ReleaseProfile,
    front_of,
    make_release,
    read_release,
    release_opens,
)
from bidcrypt.package.report import Check, UnpackReport
from bidcrypt.package.rule import KeyChange, RuleVerdict, check_package
from bidcrypt.package.share_release import ShareProfile, ShareRelease, make_share_release, read_share_release
from bidcrypt.package.shares import (
    KEK_SIZE,
    SHARE_SIZE,
    MemberShare,
    combine_shares,
    parse_share_file,
    share_digest,
    share_file_content,
    share_of_statement,
    share_statement,
    split_kek,
)
from bidcrypt.package.signin import SignIn, make_signin, read_signin
from bidcrypt.package.statements import (
    Statement,
    canonical_json,
    format_statement_time,
    open_sealed,
    parse_statement_time,
    read_statement,
    seal,
    sign_statement,
)
from bidcrypt.package.summary_file import SummaryFile, load_summary_file
from bidcrypt.package.unpack import (
    async_open_content,
    async_unpack,
    async_verify_backup,
    open_content,
    unpack,
    verify_backup,
)

__all__ = [
    "CUSTODY_MODELS",
    "KEK_SIZE",
    "MAX_PROFILE_SIZE",
    "MAX_RELEASE",
    "PROFILE_TYPE",
    "PROFILE_VERSION",
    "SESSION_SUITES",
    "SHARE_SIZE",
    "SUITE_TRANSPORTS",
    "Bidder",
    "Check",
    "CommitteeMember",
    "Custody",
    "FileEntry",
    "KeyChange",
    "Manifest",
    "MemberShare",
    "PackResult",
    "PackageAttributes",
    "PackageInfo",
    "ProfileTarget",
    "RecipientChoice",
    "ReencryptPackageResult",
    "Release",
    "ReleaseProfile",
    "Role",
    "RuleVerdict",
    "SessionProfile",
    "ShareProfile",
    "ShareRelease",
    "SignIn",
    "Statement",
    "Summary",
    "SummaryFile",
    "UnpackReport",
    "async_open_content",
    "async_unpack",
    "async_verify_backup",
    "canonical_json",
    "check_package",
    "combine_shares",
    "format_statement_time",
    "front_of",
    "load_summary_file",
    "make_release",
    "make_share_release",
    "make_signin",
    "open_content",
    "open_sealed",
    "pack",
    "parse_share_file",
    "parse_statement_time",
    "profile_json",
    "profile_sha256",
    "profile_target",
    "read_package_info",
    "read_profile",
    "read_release",
    "read_share_release",
    "read_signin",
    "read_statement",
    "reencrypt_package",
    "release_opens",
    "seal",
    "share_digest",
    "share_file_content",
    "share_of_statement",
    "share_statement",
    "sign_profile",
    "sign_statement",
    "split_kek",
    "suite_of",
    "unpack",
    "verify_backup",
]
