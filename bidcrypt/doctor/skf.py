"""The doctor on an SKF UKey (GM/T 0016): the library, the tree of devices, applications and containers.

The tree is read without a login (:func:`~bidcrypt.keys.survey_skf`): each
device, each application with its PIN's retries left out of the maximum,
each container with its kind and the decryption path it offers. Then each
container the reference selects is opened as a key source and its
certificates checked as any source's (and with a login, its keys). A seed
failure is one line in the key source's own words: no device, "当前 UKey 不存在应用：…",
"没有获取到容器：…", "未获取到签名证书：…", a locked PIN.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bidcrypt.doctor.keys import check_certificate
from bidcrypt.doctor.report import DoctorReport
from bidcrypt.doctor.roles import check_roles
from bidcrypt.doctor.tokens import check_pin
from bidcrypt.errors import (
    BidcryptError,
    SkfApplicationMissingError,
    SkfCertificateMissingError,
    SkfContainerMissingError,
    TokenAbsentError,
)
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeyEntry, PinSource, SkfUri, survey_skf

if TYPE_CHECKING:
    from bidcrypt.keys import SkfApplicationSurvey, SkfContainerSurvey, SkfDeviceSurvey, SkfSurvey

#: The codes of the problems after which no further login is tried (the PIN's own failures).
_PIN_PROBLEMS = ("pin-incorrect", "pin-locked", "pin-final-try", "pin-unavailable")


@dataclass(frozen=True)
class _Pin:
    """An SKF application's PIN state in the flags the shared PIN check reads."""

    count_low: bool
    final_try: bool
    locked: bool
    to_be_changed: bool


def examine_skf(
    reference: str,
    report: DoctorReport,
    moment: dt.datetime,
    *,
    module: str | None,
    pin_source: PinSource | None,
    login: bool,
) -> list[KeyEntry]:
    """Check the SKF UKey *reference* selects; the certificates found (for the identity check)."""
    uri = SkfUri.parse(reference)
    survey = survey_skf(uri, module)
    report.module = survey.library
    report.token = _tree(survey, uri)
    offered = (("SKF_ECCDecrypt", survey.ecc_decrypt), ("SKF_RSAPriKeyDecrypt", survey.rsa_decrypt))
    exports = [name for name, has in offered if has]
    report.ok(
        "module-loaded",
        pick(
            f"SKF library loaded: {survey.library} (private-key decryption: {', '.join(exports) or 'none'})",
            f"已加载 SKF 驱动库：{survey.library}（私钥解密：{', '.join(exports) or '无'}）",
        ),
    )
    if not survey.devices:
        wanted = "" if uri.device is None else SkfUri(device=uri.device).describe()
        report.problem(TokenAbsentError(token=wanted or "SKF", available=_names(survey.present)))
        return []
    entries: list[KeyEntry] = []
    for device in survey.devices:
        entries += _examine_device(device, survey, uri, report, moment, pin_source, login)
    return entries


def _names(names: tuple[Any, ...]) -> str | Text:
    return ", ".join(n.text for n in names) or Text("none", "无")


def _wanted(value: bytes | None) -> str:
    return "" if value is None else f" {SkfUri(container=value).describe()}"


def _examine_device(
    device: SkfDeviceSurvey,
    survey: SkfSurvey,
    uri: SkfUri,
    report: DoctorReport,
    moment: dt.datetime,
    pin_source: PinSource | None,
    login: bool,
) -> list[KeyEntry]:
    if device.error is not None or device.info is None:
        if device.error is not None:
            report.problem(device.error)
        return []
    info = device.info
    report.ok(
        "token-present",
        pick(
            f"UKey {device.name.text} present ({info.manufacturer} {info.label}, serial {info.serial})",
            f"已检测到 UKey {device.name.text}（{info.manufacturer} {info.label}，序列号 {info.serial}）",
        ),
    )
    if not device.applications:
        report.problem(
            SkfApplicationMissingError(
                source=device.name.text, wanted=_wanted(uri.application), available=_names(device.present)
            )
        )
        return []
    entries: list[KeyEntry] = []
    for application in device.applications:
        entries += _examine_application(device, application, survey, uri, report, moment, pin_source, login)
    return entries


def _examine_application(
    device: SkfDeviceSurvey,
    application: SkfApplicationSurvey,
    survey: SkfSurvey,
    uri: SkfUri,
    report: DoctorReport,
    moment: dt.datetime,
    pin_source: PinSource | None,
    login: bool,
) -> list[KeyEntry]:
    if application.error is not None or application.pin is None:
        if application.error is not None:
            report.problem(application.error)
        return []
    pin = application.pin
    where = f"{device.name.text}/{application.name.text}"
    report.ok(
        "pin-retries",
        pick(
            f"application {application.name.text}: PIN {pin.describe().render('en')}",
            f"应用 {application.name.text}：PIN 码{pin.describe().render('zh')}",
        ),
    )
    state = _Pin(pin.count_low, pin.final_try, pin.locked, pin.default_pin)
    login = check_pin(report, state, where) and login
    if not application.containers:
        report.problem(
            SkfContainerMissingError(
                source=device.name.text,
                application=application.name.text,
                wanted=_wanted(uri.container),
                available=_names(application.present),
            )
        )
        return []
    entries: list[KeyEntry] = []
    for container in application.containers:
        if container.error is not None:
            report.problem(container.error)
            continue
        may_login = login and not any(f.code in _PIN_PROBLEMS for f in report.problems)
        reference = dataclasses.replace(
            uri,
            device=device.name.raw,
            application=application.name.raw,
            container=container.name.raw,
            module_path=survey.library,
        )
        entries += _examine_container(reference, container, survey, report, moment, pin_source, may_login)
    return entries


def _examine_container(
    reference: SkfUri,
    container: SkfContainerSurvey,
    survey: SkfSurvey,
    report: DoctorReport,
    moment: dt.datetime,
    pin_source: PinSource | None,
    login: bool,
) -> list[KeyEntry]:
    from bidcrypt.keys import SkfSource

    path = decryption_path(container.kind, survey, reference.fast_path)
    report.ok(
        "container",
        pick(
            f"container {container.name.text} ({container.kind}): decryption path {path or '-'}",
            f"容器 {container.name.text}（{container.kind}）：解密方式 {_PATH_ZH.get(path or '', '-')}",
        ),
    )
    try:
        source = SkfSource(reference, pin_source)
        with source:
            try:
                entries = source.entries()
            except SkfCertificateMissingError:
                entries = []  # neither certificate: each is said below
            missing = source.missing_certificates()
            for purpose in missing:
                report.problem(
                    SkfCertificateMissingError(
                        source=source.description, container=container.name.text, purpose=purpose.text()
                    )
                )
            for entry in entries:
                report.certificates.append(check_certificate(entry, report, moment, login))
            check_roles(report, entries, source.description, moment, reported=missing)
            return entries
    except BidcryptError as error:
        report.problem(error)
    return []


_PATH_ZH = {"fast": "快速", "standard": "标准"}


def decryption_path(kind: str | None, survey: SkfSurvey, fast_allowed: bool = True) -> str | None:
    """``fast`` when the library decrypts with this kind of container's private key, else ``standard``.

    None for a container that is neither RSA nor SM2.
    """
    if kind not in ("RSA", "SM2"):
        return None
    has = survey.ecc_decrypt if kind == "SM2" else survey.rsa_decrypt
    return "fast" if fast_allowed and has else "standard"


def _tree(survey: SkfSurvey, uri: SkfUri) -> dict[str, Any]:
    """The token part of the report: the library's exports and the devices, applications, containers."""
    return {
        "kind": "skf",
        "library": survey.library,
        "exports": {"SKF_ECCDecrypt": survey.ecc_decrypt, "SKF_RSAPriKeyDecrypt": survey.rsa_decrypt},
        "fast_path_allowed": uri.fast_path,
        "devices_present": [n.text for n in survey.present],
        "devices": [
            {
                "name": device.name.text,
                "info": None if device.info is None else dataclasses.asdict(device.info),
                "applications_present": [n.text for n in device.present],
                "applications": [
                    {
                        "name": application.name.text,
                        "pin": None
                        if application.pin is None
                        else {
                            "max_retries": application.pin.max_retries,
                            "retries_left": application.pin.retries_left,
                            "default_pin": application.pin.default_pin,
                            "locked": application.pin.locked,
                        },
                        "containers_present": [n.text for n in application.present],
                        "containers": [
                            {
                                "name": container.name.text,
                                "kind": container.kind,
                                "decryption_path": decryption_path(container.kind, survey, uri.fast_path),
                            }
                            for container in application.containers
                        ],
                    }
                    for application in device.applications
                ],
            }
            for device in survey.devices
        ],
    }


__all__ = ["decryption_path", "examine_skf"]
