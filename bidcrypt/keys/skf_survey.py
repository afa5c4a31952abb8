"""What an SKF UKey holds, read without a login: its devices, their applications and containers.

:func:`survey_skf` walks the tree the ``skf:`` reference selects (every
device, application or container it does not name) for ``bidcrypt doctor``:
each device's ``DEVINFO``, each application's PIN retry counts, each
container's type. Nothing is logged in to and no key is used. A failure
on one branch (an application that cannot be opened, a device removed) is
kept on that branch, in the words the key source would use, and the walk
goes on; only a library that cannot be loaded stops it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bidcrypt.errors import BidcryptError
from bidcrypt.keys.skf_errors import SkfCallError, Where, translate
from bidcrypt.keys.skf_library import SkfLibrary
from bidcrypt.keys.skf_source import SkfDeviceInfo, SkfPinInfo
from bidcrypt.keys.skf_types import CONTAINER_ECC, CONTAINER_RSA, HANDLE
from bidcrypt.keys.skf_uri import SkfName, SkfUri, split_name_list
from bidcrypt.keys.uri import MODULE_ENV

_T = TypeVar("_T")
#: The kind of a container by ``SKF_GetContainerType``: 0 is an empty container.
CONTAINER_KINDS = {CONTAINER_RSA: "RSA", CONTAINER_ECC: "SM2", 0: "empty"}


@dataclass(frozen=True)
class SkfContainerSurvey:
    """One container: its name and kind (``RSA``, ``SM2``, ``empty``, or the type number), or why not."""

    name: SkfName
    kind: str | None = None
    error: BidcryptError | None = None


@dataclass(frozen=True)
class SkfApplicationSurvey:
    """One application: its user PIN's retry counts and its containers, or why they could not be read."""

    name: SkfName
    pin: SkfPinInfo | None = None
    #: The containers the reference selects; ``present`` names every one.
    containers: tuple[SkfContainerSurvey, ...] = ()
    present: tuple[SkfName, ...] = ()
    error: BidcryptError | None = None


@dataclass(frozen=True)
class SkfDeviceSurvey:
    """One device: what ``SKF_GetDevInfo`` says and its applications, or why they could not be read."""

    name: SkfName
    info: SkfDeviceInfo | None = None
    #: The applications the reference selects; ``present`` names every one.
    applications: tuple[SkfApplicationSurvey, ...] = ()
    present: tuple[SkfName, ...] = ()
    error: BidcryptError | None = None


@dataclass(frozen=True)
class SkfSurvey:
    """The library and the devices present that the reference selects."""

    library: str
    ecc_decrypt: bool
    rsa_decrypt: bool
    #: The devices the reference selects; ``present`` names every one present.
    devices: tuple[SkfDeviceSurvey, ...]
    present: tuple[SkfName, ...]


def skf_library_path(uri: SkfUri, module: str | None) -> str | None:
    """The library an ``skf:`` reference uses, as :func:`~bidcrypt.keys.open_key_source` chooses it.

    *module* is ``--module``; equal to ``BIDCRYPT_PKCS11_MODULE`` it is the
    CLI's default from that variable, a PKCS#11 module, and is ignored.
    """
    if module is not None and module == os.environ.get(MODULE_ENV):
        module = None
    return uri.module(module)


def survey_skf(uri: SkfUri, module: str | None = None) -> SkfSurvey:
    """Walk the devices, applications and containers *uri* selects (see the module's docstring).

    Raises only when the library cannot be loaded or the devices cannot be listed.
    """
    library = SkfLibrary(skf_library_path(uri, module))
    present = tuple(split_name_list(_call(library.enum_devices, Where(uri.describe()))))
    devices = tuple(_device(library, name, uri) for name in _selected(present, uri.device))
    return SkfSurvey(library.path, library.has_ecc_decrypt, library.has_rsa_decrypt, devices, present)


def _selected(names: tuple[SkfName, ...] | list[SkfName], wanted: bytes | None) -> list[SkfName]:
    return [name for name in names if wanted is None or name.matches(wanted)]


def _call(function: Callable[[], _T], where: Where) -> _T:
    try:
        return function()
    except SkfCallError as failure:
        raise translate(failure, where) from None


def _device(library: SkfLibrary, name: SkfName, uri: SkfUri) -> SkfDeviceSurvey:
    where = Where(name.text)
    try:
        handle = _call(lambda: library.connect(name.raw), where)
    except BidcryptError as error:
        return SkfDeviceSurvey(name, error=error)
    try:
        raw = _call(lambda: library.device_info(handle), where)
        info = SkfDeviceInfo(
            label=_text(raw.Label),
            manufacturer=_text(raw.Manufacturer),
            issuer=_text(raw.Issuer),
            serial=_text(raw.SerialNumber),
            max_buffer=int(raw.MaxBufferSize),
        )
        names = tuple(split_name_list(_call(lambda: library.enum_applications(handle), where)))
        applications = tuple(
            _application(library, handle, name.text, application, uri)
            for application in _selected(names, uri.application)
        )
        return SkfDeviceSurvey(name, info, applications, names)
    except BidcryptError as error:
        return SkfDeviceSurvey(name, error=error)
    finally:
        with contextlib.suppress(SkfCallError):
            library.disconnect(handle)


def _text(value: bytes) -> str:
    return SkfName.of(value.split(b"\0")[0]).text.strip()


def _application(
    library: SkfLibrary, device: HANDLE, device_name: str, name: SkfName, uri: SkfUri
) -> SkfApplicationSurvey:
    where = Where(device_name, application=name.text)
    try:
        handle = _call(lambda: library.open_application(device, name.raw), where)
    except BidcryptError as error:
        return SkfApplicationSurvey(name, error=error)
    try:
        most, left, default = _call(lambda: library.pin_info(handle), where)
        names = tuple(split_name_list(_call(lambda: library.enum_containers(handle), where)))
        containers = tuple(
            _container(library, handle, where, container) for container in _selected(names, uri.container)
        )
        return SkfApplicationSurvey(name, SkfPinInfo(most, left, default), containers, names)
    except BidcryptError as error:
        return SkfApplicationSurvey(name, error=error)
    finally:
        with contextlib.suppress(SkfCallError):
            library.close_application(handle)


def _container(library: SkfLibrary, application: HANDLE, where: Where, name: SkfName) -> SkfContainerSurvey:
    where = Where(where.source, application=where.application, container=name.text)
    try:
        handle = _call(lambda: library.open_container(application, name.raw), where)
    except BidcryptError as error:
        return SkfContainerSurvey(name, error=error)
    try:
        kind = _call(lambda: library.container_type(handle), where)
        return SkfContainerSurvey(name, CONTAINER_KINDS.get(kind, str(kind)))
    except BidcryptError as error:
        return SkfContainerSurvey(name, error=error)
    finally:
        with contextlib.suppress(SkfCallError):
            library.close_container(handle)


__all__ = [
    "CONTAINER_KINDS",
    "SkfApplicationSurvey",
    "SkfContainerSurvey",
    "SkfDeviceSurvey",
    "SkfSurvey",
    "skf_library_path",
    "survey_skf",
]
