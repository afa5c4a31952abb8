"""Errors of the files bidcrypt reads and writes."""

from __future__ import annotations

from bidcrypt.errors.base import BidcryptError

__all__ = ["InputError", "OutputError", "OutputExistsError"]


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
