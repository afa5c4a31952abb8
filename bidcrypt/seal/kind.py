"""The two kinds of seal, how a seal records its kind, and which certificate may make which.

A bid document carries the **company seal** (公章), made with the company's
signing certificate, and the **legal-person seal** (法人章), made with the
legal representative's personal certificate.

How the kind is recorded: as a *claimed role* of the signer, in the CAdES
``signer-attributes-v2`` signed attribute (ETSI EN 319 122-1 §5.2.6.1, allowed
in PAdES baseline signatures): a ``role`` attribute (2.5.4.72, RFC 5755
``RoleSyntax``) whose ``roleName`` is the URI ``urn:bidcrypt:seal-kind:company``
or ``urn:bidcrypt:seal-kind:legal-person``. Being a signed attribute it is
covered by the signature, so it cannot be changed without breaking the seal.
The signature dictionary's ``/Reason`` says the same for people
(``公章 company seal`` / ``法人章 legal-person seal``); it is informational.

Which certificate is whose (:func:`holder_of`): a certificate belongs to an
organisation when its subject has an O and its CN is absent, equal to the O or
contains it; or when it has no O but names a credit code and carries no title.
Otherwise (a CN that is a person's name beside the company's O, or a title such
as 法定代表人) it belongs to a person.
"""

from __future__ import annotations

from enum import Enum

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import NameOID

from bidcrypt import certs
from bidcrypt.errors import SealKindMismatchError
from bidcrypt.i18n import Language, Text, pick

#: The roleName URIs that record the kind of a seal.
ROLE_URI_PREFIX = "urn:bidcrypt:seal-kind:"
_SIGNER_ATTRIBUTES_V2 = "0.4.0.19122.1.1"
_ROLE = "2.5.4.72"


class SealKind(Enum):
    """Company seal (公章) or legal-person seal (法人章)."""

    COMPANY = "company"
    LEGAL_PERSON = "legal-person"

    def label(self, language: Language | None = None) -> str:
        """The kind's name in the user's language."""
        if self is SealKind.COMPANY:
            return pick("company seal", "公章", language)
        return pick("legal-person seal", "法人章", language)

    def text(self) -> Text:
        """The kind's name in both languages (for an error: rendered when shown)."""
        return Text(self.label("en"), self.label("zh"))

    @property
    def role_uri(self) -> str:
        """The roleName URI recorded in the seal's signed attributes."""
        return ROLE_URI_PREFIX + self.value

    @property
    def reason(self) -> str:
        """The human-readable ``/Reason`` of the seal's signature dictionary."""
        return "公章 company seal" if self is SealKind.COMPANY else "法人章 legal-person seal"

    @classmethod
    def from_role_uri(cls, uri: str) -> SealKind | None:
        """The kind a roleName URI names, or None."""
        if uri.startswith(ROLE_URI_PREFIX):
            try:
                return cls(uri[len(ROLE_URI_PREFIX) :])
            except ValueError:
                return None
        return None


class Holder(Enum):
    """Whom a signing certificate belongs to."""

    ORGANISATION = "organisation"
    PERSON = "person"

    def label(self) -> str:
        """The holder's name in the user's language."""
        return self.text().render()

    def text(self) -> Text:
        """The holder's name in both languages (for an error: rendered when shown)."""
        if self is Holder.ORGANISATION:
            return Text("an organisation", "单位")
        return Text("a person", "个人")


def role_attribute(kind: SealKind) -> cms.AttCertAttribute:
    """The claimed ``role`` attribute recording *kind* (for ``signer-attributes-v2``)."""
    role_name = asn1_x509.GeneralName(name="uniform_resource_identifier", value=kind.role_uri)
    return cms.AttCertAttribute({"type": "role", "values": [cms.RoleSyntax({"role_name": role_name})]})


def kind_of(signer_info: cms.SignerInfo) -> SealKind | None:
    """The kind recorded in a CMS SignerInfo's signed attributes, or None (none recorded, or unreadable)."""
    try:
        return _kind_of(signer_info)
    except (ValueError, KeyError, TypeError):
        return None


def _kind_of(signer_info: cms.SignerInfo) -> SealKind | None:
    from pyhanko.sign.ades.cades_asn1 import SignerAttributesV2

    found: set[SealKind] = set()
    for attribute in signer_info["signed_attrs"]:
        if attribute["type"].dotted != _SIGNER_ATTRIBUTES_V2:
            continue
        for value in attribute["values"]:
            parsed = value.parse(SignerAttributesV2) if isinstance(value, core.Any) else value
            claimed = parsed["claimed_attributes"]
            if claimed.native is None:
                continue
            for claim in claimed:
                if claim["type"].dotted != _ROLE:
                    continue
                for role in claim["values"]:
                    role_name = role["role_name"]
                    if role_name.name == "uniform_resource_identifier":
                        kind = SealKind.from_role_uri(str(role_name.native))
                        if kind is not None:
                            found.add(kind)
    return found.pop() if len(found) == 1 else None


def holder_of(certificate: x509.Certificate) -> Holder:
    """Whether *certificate* belongs to an organisation or a person (rule in the module docstring)."""
    organisation = certs.company_name(certificate)
    name = certs.common_name(certificate)
    titled = bool(certificate.subject.get_attributes_for_oid(NameOID.TITLE))
    if titled:
        return Holder.PERSON
    if organisation:
        if name is None or name == organisation or organisation in name:
            return Holder.ORGANISATION
        return Holder.PERSON
    return Holder.ORGANISATION if certs.credit_code(certificate) else Holder.PERSON


def expected_holder(kind: SealKind) -> Holder:
    """The holder whose certificate makes seals of *kind*."""
    return Holder.ORGANISATION if kind is SealKind.COMPANY else Holder.PERSON


def kind_mismatch(certificate: x509.Certificate, kind: SealKind) -> SealKindMismatchError | None:
    """The error to raise or report when *certificate* cannot make a seal of *kind*, else None."""
    holder = holder_of(certificate)
    if holder is expected_holder(kind):
        return None
    wanted = (
        Text("the company's signing certificate", "单位的签名证书（公章证书）")
        if kind is SealKind.COMPANY
        else Text("the legal representative's personal certificate", "法定代表人的个人证书（法人章证书）")
    )
    return SealKindMismatchError(
        what=kind.text(), subject=certs.display_name(certificate), actual=holder.text(), wanted=wanted
    )
