"""`bidcrypt seal apply` and `bidcrypt seal verify`: company and legal-person seals on PDF documents.

pyHanko is imported inside the commands, so that every other command starts without it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bidcrypt import certs
from bidcrypt.cli.common import (
    handles_errors,
    json_option,
    key_options,
    keyref_option,
    open_source,
    print_json,
    trust_options,
    trust_store,
)
from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.i18n import pick
from bidcrypt.seal import Placement, SealCheck, SealKind, SealReport


@click.group()
def seal() -> None:
    """Seal PDF documents (公章, 法人章) and verify their seals."""


def _placement(ctx: click.Context, param: click.Parameter, value: object) -> Placement:
    page = ctx.params.get("page_text")
    try:
        return Placement.parse(
            str(page) if page is not None else None, value if isinstance(value, str) else None
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@seal.command("apply")
@click.argument("document", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The sealed copy (must not exist).",
)
@keyref_option(help="The signing certificate's key.")
@click.option(
    "--kind",
    required=True,
    type=click.Choice([k.value for k in SealKind]),
    help="company (公章, the company's certificate) or legal-person (法人章, the representative's).",
)
@click.option(
    "--image",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The seal picture (PNG or JPEG).",
)
@click.option(
    "--page",
    "page_text",
    default="last",
    show_default=True,
    is_eager=True,
    metavar="N|N,M,...|last|all",
    help="Page(s) to seal; all = every page (逐页盖章).",
)
@click.option(
    "--box",
    "placement",
    metavar="x1,y1,x2,y2",
    callback=_placement,
    help="Where the seal goes, in points from the page's lower-left corner [default: lower right].",
)
@click.option(
    "--chain",
    type=click.Path(path_type=Path, dir_okay=False),
    help="PEM file of the issuing CA certificates to embed in the seal.",
)
@click.option("--tsa", metavar="URL", help="RFC 3161 timestamp authority: makes a PAdES B-T seal.")
@key_options
@json_option
@handles_errors
def apply_command(
    document: Path,
    output: Path,
    key_ref: str,
    kind: str,
    image: Path,
    page_text: str,
    placement: Placement,
    chain: Path | None,
    tsa: str | None,
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Seal DOCUMENT into a new file with a certificate of the UKey (or PKCS#12 file)."""
    from bidcrypt.seal import apply_seal, choose_entry  # imports pyHanko: only when sealing

    seal_kind = SealKind(kind)
    chain_certificates = certs.load_certificates(chain) if chain else []
    with open_source(key_ref, module, pin_env) as source:
        entry = choose_entry(source, seal_kind)
        result = apply_seal(
            document,
            output,
            entry,
            kind=seal_kind,
            image=image,
            placement=placement,
            chain=chain_certificates,
            tsa_url=tsa,
        )
    if as_json:
        print_json(result.to_dict())
        return
    pages = ", ".join(str(s.page) for s in result.seals)
    who = result.signer + (f" ({result.credit_code})" if result.credit_code else "")
    click.echo(
        pick(
            f"sealed {result.output}: {seal_kind.label()} of {who} on page {pages}"
            + (" with a timestamp" if result.timestamped else ""),
            f"已盖章 {result.output}：{who} 的{seal_kind.label()}，第 {pages} 页"
            + ("，含时间戳" if result.timestamped else ""),
        )
    )


@seal.command("verify")
@click.argument("document", type=click.Path(path_type=Path, dir_okay=False))
@trust_options(required=True)
@click.option("--expect-uscc", metavar="CODE", help="The bidder's unified social credit code.")
@json_option
@handles_errors
def verify_command(
    document: Path,
    trust: tuple[Path, ...],
    crls: tuple[Path, ...],
    expect_uscc: str | None,
    as_json: bool,
) -> None:
    """Verify every seal of DOCUMENT: exit 0 when all are valid, else the code of the first problem."""
    from bidcrypt.seal import verify_seals  # imports pyHanko: only when verifying

    store = trust_store(trust, crls)
    assert store is not None  # --trust is required
    report = verify_seals(document, trust=store, expect_uscc=expect_uscc)
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report)
    problems = report.problems
    error = problems[0].error if problems else None
    sys.exit(exit_code_for(error) if error is not None else 0)


def _print(report: SealReport) -> None:
    """The report on stdout, each finding under its seal (the exit code tells success from failure)."""
    for check in report.seals:
        _print_seal(check)
    for finding in report.findings:
        if finding.seal is None:
            click.echo(f"✗ {finding.message}")
    if report.valid:
        click.echo(
            pick(
                f"verdict: all {len(report.seals)} seal(s) valid",
                f"结论：全部 {len(report.seals)} 个签章有效",
            )
        )
    else:
        click.echo(pick("verdict: NOT VALID", "结论：签章验证未通过"))


def _print_seal(check: SealCheck) -> None:
    yes, no = pick("yes", "是"), pick("no", "否")
    kind = check.kind.label() if check.kind else pick("seal of unknown kind", "未知类型签章")
    where = pick(f" on page {check.page}", f"（第 {check.page} 页）") if check.page else ""
    who = check.signer + (f" / {check.company}" if check.company and check.company != check.signer else "")
    code = check.credit_code or "-"
    click.echo(f"{'✓' if check.valid else '✗'} {check.field}: {kind}{where} — {who} ({code})")
    signing_time = certs.format_time(check.signing_time) if check.signing_time else "-"
    line = f"    {pick('signed', '签署时间')}: {signing_time}"
    if check.timestamp is not None:
        trusted = pick("trusted", "可信") if check.timestamp.trusted else pick("NOT trusted", "不可信")
        line += (
            f"   {pick('timestamp', '时间戳')}: {certs.format_time(check.timestamp.time)}"
            f" ({check.timestamp.authority}, {trusted})"
        )
    judged = certs.format_time(check.judged_at)
    line += (
        pick(f"   certificate judged at: {judged} (the timestamp)", f"   证书判定时间：{judged}（时间戳）")
        if check.judged_by == "timestamp"
        else pick(f"   certificate judged at: {judged}", f"   证书判定时间：{judged}")
    )
    click.echo(line)
    changed = yes if check.modified_after else no
    later = pick(f"{check.later_seals} later seal(s)", f"其后 {check.later_seals} 个签章")
    chain = (
        pick(f"trusted ({check.trust_anchor})", f"可信（{check.trust_anchor}）")
        if check.trusted
        else pick("NOT trusted", "不可信")
    )
    revocation = {
        "good": pick("not revoked", "未吊销"),
        "revoked": pick("REVOKED", "已吊销"),
        "unknown": pick("unknown (no CRL of its issuer)", "未知（无对应吊销列表）"),
        "not-checked": pick("not checked (no CRL given)", "未检查（未提供吊销列表）"),
    }[check.revocation.state]
    click.echo(
        f"    {pick('intact', '完整')}: {yes if check.intact else no}   "
        f"{pick('changed after', '其后被修改')}: {changed} ({later})   "
        f"{pick('certificate', '证书')}: {chain}   {pick('revocation', '吊销状态')}: {revocation}"
    )
    for finding in check.findings:
        mark = "✗" if finding.level == "problem" else "!"
        text = f"    {mark} {finding.message}"
        if finding.hint:
            text += f" — {finding.hint}"
        click.echo(text)
