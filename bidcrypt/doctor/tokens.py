"""What the doctor reads from a token before any login: the driver, the token, the PIN state.

Shared by PKCS#11 tokens and SKF UKeys: :func:`check_pin` turns a PIN state
(locked, final try, count low, still the initial PIN) into findings, and
says whether a login may be made at all.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Protocol

from bidcrypt.doctor.report import DoctorReport
from bidcrypt.errors import PinLockedError
from bidcrypt.i18n import pick
from bidcrypt.keys import PinStatus

if TYPE_CHECKING:
    from bidcrypt.keys import Pkcs11Source


class PinFlags(PinStatus, Protocol):
    """What a token says about its user PIN before a login, and whether it is still the initial one."""

    @property
    def to_be_changed(self) -> bool:
        """The PIN is still the initial one."""
        ...


def check_pin(report: DoctorReport, pin: PinFlags, description: str) -> bool:
    """Report the PIN state of the token *description*; False when no login may be tried (locked)."""
    if pin.locked:
        report.problem(PinLockedError(source=description))
        return False
    if pin.final_try:
        report.warn(
            "pin-final-try",
            pick("one more wrong PIN locks the token", "再输错一次 PIN 码将锁定 U-KEY"),
            pick("be sure of the PIN before the next login", "下次登录前请确认 PIN 码"),
        )
    elif pin.count_low:
        report.warn(
            "pin-count-low",
            pick("a wrong PIN was entered before", "曾输错过 PIN 码"),
            pick("a few more wrong PINs lock the token", "多次输错将锁定 U-KEY"),
        )
    if pin.to_be_changed:
        report.warn(
            "pin-to-be-changed",
            pick("the PIN is still the initial one", "PIN 码仍为初始值"),
            pick("change it with the CA's tool", "请用 CA 提供的工具修改 PIN 码"),
        )
    return True


def examine_pkcs11(source: Pkcs11Source, report: DoctorReport) -> bool:
    """The PKCS#11 module and token; False when no login may be tried."""
    report.module = source.module_path
    report.ok(
        "module-loaded",
        pick(f"PKCS#11 module loaded: {source.module_path}", f"已加载 PKCS#11 驱动：{source.module_path}"),
    )
    info = source.info()
    report.token = {
        "kind": "pkcs11",
        "label": info.label,
        "manufacturer": info.manufacturer,
        "model": info.model,
        "serial": info.serial,
        "pin": asdict(info.pin),
        "pin_pad": info.pin_pad,
    }
    report.ok(
        "token-present",
        pick(
            f"token {info.label} present ({info.manufacturer} {info.model})",
            f"已检测到 U-KEY {info.label}（{info.manufacturer} {info.model}）",
        ),
    )
    if info.pin_pad:
        report.ok(
            "pin-pad",
            pick(
                "the PIN is typed on the UKey's keypad (PIN pad)", "PIN 码在 U-KEY 的键盘上输入（密码键盘）"
            ),
        )
    return check_pin(report, info.pin, info.label)
