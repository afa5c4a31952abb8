"""What changed after a seal: every later revision must be another seal's, or validation data.

Each revision is analysed once with pyHanko's difference policy and the
result kept, so a document sealed on every page verifies in time linear in
its seals. A certification signature that allows no changes at all fails
every later revision but validation-data updates (a DSS, PAdES LTA).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import read_certification_data
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel

from bidcrypt import certs
from bidcrypt.i18n import pick

#: What a malformed signature or document structure raises in pyHanko, asn1crypto and cryptography
#: (pyHanko raises AttributeError for a digest algorithm it does not know).
MALFORMED = (PdfError, *certs.UNREADABLE, KeyError, IndexError, AttributeError)


@dataclass(frozen=True)
class _Revision:
    """What one revision changed, by pyHanko's difference analysis."""

    level: ModificationLevel | None  # None: suspicious, i.e. anything
    validation_data: bool


class RevisionHistory:
    """The revisions of one document, each analysed at most once."""

    def __init__(self, reader: PdfFileReader) -> None:
        self.reader = reader
        self.revisions: dict[int, _Revision] = {}
        everything = reader.embedded_signatures
        self.signed_revisions = {s.signed_revision: s for s in everything}
        self.total_revisions = reader.xrefs.total_revisions
        certification = read_certification_data(reader)
        #: The revision of a certification signature that allows no changes at all, if any.
        self.no_changes_after: int | None = None
        if certification is not None and certification.permission == MDPPerm.NO_CHANGES:
            author = reader.root["/Perms"].raw_get("/DocMDP")
            for embedded in everything:
                value = embedded.sig_field.raw_get("/V")
                if (
                    isinstance(author, generic.IndirectObject)
                    and isinstance(value, generic.IndirectObject)
                    and author.idnum == value.idnum
                ):
                    self.no_changes_after = embedded.signed_revision

    def changes_after(
        self, embedded: EmbeddedPdfSignature, coverage: SignatureCoverageLevel | None
    ) -> tuple[list[str], int]:
        """Descriptions of the changes after the seal beyond further seals, and how many seals followed."""
        changes = []
        if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
            changes.append(
                pick("the seal does not cover its whole revision", "签章未覆盖其所在版本的全部内容")
            )
        own = embedded.signed_revision
        later_seals = 0
        for revision in range(own + 1, self.total_revisions):
            analysis = self._revision(revision)
            later = self.signed_revisions.get(revision)
            if self.no_changes_after == own and not analysis.validation_data:
                changes.append(
                    pick(
                        f"revision {revision + 1} changes a document certified against all changes",
                        f"第 {revision + 1} 版修改了已锁定（禁止任何修改）的文档",
                    )
                )
            elif later is not None:
                later_seals += 1
                if analysis.level is None or analysis.level > ModificationLevel.FORM_FILLING:
                    changes.append(
                        pick(
                            f"revision {revision + 1} adds a seal and also changes the document",
                            f"第 {revision + 1} 版在加盖签章的同时修改了文档",
                        )
                    )
            elif not analysis.validation_data and not (
                analysis.level is not None and analysis.level == ModificationLevel.NONE
            ):
                changes.append(
                    pick(
                        f"revision {revision + 1} is an unsealed change ({_level_name(analysis.level)})",
                        f"第 {revision + 1} 版是未经签章的修改（{_level_name(analysis.level)}）",
                    )
                )
        return changes, later_seals

    def _revision(self, revision: int) -> _Revision:
        if revision not in self.revisions:
            old = self.reader.get_historical_resolver(revision - 1)
            new = self.reader.get_historical_resolver(revision)
            try:
                level: ModificationLevel | None = DEFAULT_DIFF_POLICY.apply(old, new).modification_level
            except SuspiciousModification:
                level = None
            except MALFORMED:  # the difference analysis failed: treat as an arbitrary change
                level = None
            validation_data = (
                level is not None and level <= ModificationLevel.LTA_UPDATES and "/DSS" in new.root
            )
            self.revisions[revision] = _Revision(level, validation_data)
        return self.revisions[revision]


def _level_name(level: ModificationLevel | None) -> str:
    names = {
        ModificationLevel.LTA_UPDATES: pick("metadata", "元数据"),
        ModificationLevel.FORM_FILLING: pick("form filling", "表单填写"),
        ModificationLevel.ANNOTATIONS: pick("annotations", "批注"),
    }
    return names.get(level, pick("content", "内容")) if level is not None else pick("content", "内容")
