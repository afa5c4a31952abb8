"""Localised text and errors rendered when shown: in the reader's language, never frozen at raise time."""

from __future__ import annotations

import json
import keyword
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidcrypt import errors
from bidcrypt.certs import Purpose, load_certificate, require_purpose
from bidcrypt.errors import BidcryptError, ManifestError, TokenAbsentError, error_class, error_from_json
from bidcrypt.files import read_input
from bidcrypt.i18n import Language, Text, fill, pick, render
from bidcrypt.package.rule import KeyChange, RuleVerdict

from .conftest import Pki

ALL_ERRORS = [
    cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.BidcryptError)
]


def _han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_text_renders_in_the_language_asked_for_and_str_in_the_locale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = Text("{path} is missing", "缺少文件 {path}", path="a.pdf")
    assert text.render("en") == "a.pdf is missing"
    assert text.render("zh") == "缺少文件 a.pdf"
    monkeypatch.setenv("BIDCRYPT_LANG", "zh")
    assert str(text) == "缺少文件 a.pdf"
    monkeypatch.setenv("BIDCRYPT_LANG", "en")
    assert str(text) == "a.pdf is missing"


def test_a_text_parameter_renders_in_the_same_language() -> None:
    what = Text("a GNU sparse file", "GNU 稀疏文件")
    text = Text("the member is {what}", "该成员为{what}", what=what)
    assert text.render("en") == "the member is a GNU sparse file"
    assert text.render("zh") == "该成员为GNU 稀疏文件"
    error = TokenAbsentError(token=Text("any", "任意"), available="-")
    assert "any" in error.message("en") and "任意" not in error.message("en")
    assert "任意" in error.message("zh")
    assert error.to_dict("zh")["params"]["token"] == "任意"


def test_braces_that_are_not_parameters_stay_as_they_are() -> None:
    assert fill("{{x}} {x} {0} { {y!r} {missing} }", {"x": 1}) == "{x} 1 {0} { {y!r} {missing} }"
    assert Text("{", "}").render("en") == "{"


def test_text_is_immutable_and_compares_by_value() -> None:
    text = Text("a {n}", "甲 {n}", n=1)
    with pytest.raises(AttributeError):
        text.en = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        text.params["n"] = 2  # type: ignore[index]
    assert text == Text("a {n}", "甲 {n}", n=1) != Text("a {n}", "甲 {n}", n=2)
    assert hash(text) == hash(Text("a {n}", "甲 {n}", n=1))


def test_a_detail_raised_under_chinese_renders_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIDCRYPT_LANG", "zh")
    error = ManifestError(Text("{path} is truncated", "{path} 不完整", path="报价.pdf"))
    assert str(error) == "文件清单校验失败: 报价.pdf 不完整"
    assert error.message("en") == "manifest check failed: 报价.pdf is truncated"
    assert error.to_dict("en")["message"] == "manifest check failed: 报价.pdf is truncated"
    assert error.args == ("manifest check failed: 报价.pdf is truncated",)


def test_a_plain_detail_stays_as_it_is() -> None:
    error = ManifestError("error:1C800064:Provider routines::bad decrypt")
    assert error.message("en").endswith(": error:1C800064:Provider routines::bad decrypt")
    assert error.message("zh").endswith(": error:1C800064:Provider routines::bad decrypt")


def _round_trip(error: BidcryptError) -> BidcryptError:
    """Through pickle, as between the opening's processes (our own bytes, not untrusted data)."""
    back: BidcryptError = pickle.loads(pickle.dumps(error))  # noqa: S301
    return back


def _messages(error: BidcryptError) -> tuple[str, str, str, str]:
    return error.message("en"), error.message("zh"), error.hint("en"), error.hint("zh")


def test_an_error_with_a_text_detail_crosses_a_process_whole() -> None:
    error = ManifestError(
        Text("{what} in {path}", "{path} 中的{what}", what=Text("a link", "链接"), path=Path("a/b")), path="x"
    )
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        back = pool.submit(pickle.loads, pickle.dumps(error)).result()
    assert type(back) is ManifestError
    assert _messages(back) == _messages(error)


def test_json_form_makes_the_same_error() -> None:
    error = TokenAbsentError(
        Text("after {n} tries", "尝试 {n} 次后", n=3), token="湖北CA", available=["a", "b"]
    )
    data = json.loads(json.dumps(error.to_json()))
    back = error_from_json(error.code, data)
    assert type(back) is TokenAbsentError
    assert _messages(back) == _messages(error)
    assert error_class("token-absent") is TokenAbsentError and error_class("no-such-code") is None
    for bad in (None, [], {"params": []}, {"detail": {"en": 1}}):
        with pytest.raises(ValueError):
            error_from_json("token-absent", bad)
    with pytest.raises(ValueError):
        error_from_json("no-such-code", {})


# --- any error, any parameters ---------------------------------------------------------------------

_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n not in ("self", "detail") and not keyword.iskeyword(n)
)
_TEMPLATES = st.text(
    alphabet=st.sampled_from([*"ab {}_x0!:", "甲", "\n", "\ud800"]), max_size=20
) | st.sampled_from(["{path}", "{a}", "{{a}}", "{0}", "{a!r}", "{", "}"])
_TEXTS = st.recursive(
    st.builds(Text, _TEMPLATES, _TEMPLATES),
    lambda inner: st.builds(
        lambda en, zh, params: Text(en, zh, **params),
        _TEMPLATES,
        _TEMPLATES,
        st.dictionaries(_NAMES, inner | st.text(max_size=10) | st.integers(), max_size=3),
    ),
    max_leaves=6,
)
_VALUES = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.floats(allow_nan=False),
    st.none(),
    st.builds(Path, st.text(alphabet="ab/甲", max_size=8)),
    _TEXTS,
)


@given(
    cls=st.sampled_from(ALL_ERRORS),
    params=st.dictionaries(_NAMES, _VALUES, max_size=5),
    detail=st.none() | st.text(max_size=20) | _TEXTS,
)
def test_any_error_pickles_and_renders_in_both_languages(
    cls: type[BidcryptError], params: dict[str, object], detail: str | Text | None
) -> None:
    error = cls(detail, **params)
    for language in ("en", "zh"):
        lang: Language = language  # type: ignore[assignment]
        error.message(lang)
        error.hint(lang)
        json.dumps(error.to_dict(lang), ensure_ascii=False)
        assert render(detail, lang) in error.message(lang)
    back = _round_trip(error)
    assert type(back) is cls and back.code == cls.code
    assert _messages(back) == _messages(error)
    stored = error_from_json(cls.code, json.loads(json.dumps(error.to_json())))
    assert _messages(stored) == _messages(error)
    assert _round_trip(stored).to_json() == stored.to_json() == error.to_json()


def test_every_class_template_renders_wholly_in_its_language() -> None:
    params = {
        name: Text(f"<{name}>", f"《{name}》") for name in ("path", "what", "source", "subject", "reason")
    }
    for cls in ALL_ERRORS:
        error = cls(Text("detail", "细节"), **params)
        assert "《" not in error.message("en") and "细节" not in error.message("en")
        assert "<" not in error.message("zh") and "detail" not in error.message("zh")
        assert _han(error.message("zh"))


# --- raised under Chinese, shown in English ------------------------------------------------------------


def _wholly(error: BidcryptError, names: list[str]) -> None:
    """The message is English in English (the companies' *names* aside) and Chinese in Chinese."""
    english = error.message("en") + error.hint("en")
    for name in names:
        english = english.replace(name, "")
    assert not _han(english), error.message("en")
    assert _han(error.message("zh")), error.message("zh")


def test_library_errors_raised_under_chinese_render_wholly_in_english(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pki: Pki
) -> None:
    monkeypatch.setenv("BIDCRYPT_LANG", "zh")
    big = tmp_path / "big.pem"
    big.write_bytes(b"x" * 10)
    other = load_certificate(pki.cert("bidder-b/enc"))
    raised: list[BidcryptError] = []
    for attempt in (
        lambda: read_input(tmp_path),  # a directory: its type in words
        lambda: read_input(big, max_size=4),  # too large
        lambda: require_purpose(load_certificate(pki.cert("bidder-a/enc")), Purpose.SIGNING),
        # re-encryption required, both certificates described
        lambda: RuleVerdict(
            KeyChange.REPLACED, load_certificate(pki.cert("bidder-a/enc")), other
        ).raise_if_stale(),
    ):
        with pytest.raises(BidcryptError) as caught:
            attempt()
        raised.append(caught.value)
    # the companies' names, and the Chinese terms the English wording names on purpose
    names = [pki.company(b)["name"] for b in ("bidder-a", "bidder-b")] + ["(补办)", "(变更)"]
    for error in raised:
        _wholly(error, names)
        _wholly(_round_trip(error), names)


def test_speaking_sets_the_language_inside_the_block_and_its_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from bidcrypt.i18n import current_language, speaking

    monkeypatch.setenv("BIDCRYPT_LANG", "zh")
    text = Text("opened {n}", "已解密 {n}", n=3)
    with speaking("en"):
        assert current_language() == "en" and pick("yes", "是") == "yes" and str(text) == "opened 3"
        assert asyncio.run(asyncio.to_thread(current_language)) == "en"  # a thread it starts speaks it too
        with speaking("zh"):
            assert str(text) == "已解密 3"
        assert str(text) == "opened 3"
    assert current_language() == "zh" and str(text) == "已解密 3"  # the locale's again after the block
