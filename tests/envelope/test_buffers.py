"""The decryption and encryption buffers are reused per thread, never shared by two users at once."""

from __future__ import annotations

import threading

from bidcrypt.envelope import _stream


def test_nested_users_get_separate_buffers_and_return_them() -> None:
    with _stream._scratch(100, 116) as (outer_in, outer_out), _stream._scratch(100, 116) as (inner_in, _):
        outer_in[:3] = b"abc"
        inner_in[:3] = b"xyz"
        assert bytes(outer_in[:3]) == b"abc"
        assert len(outer_in) >= 100 and len(outer_out) >= 116
    with _stream._scratch(50, 66) as (again, _):
        # A returned buffer comes back (its old bytes included: every user overwrites what it reads).
        assert bytes(again[:3]) in (b"abc", b"xyz")


def test_large_buffers_are_not_kept() -> None:
    def use() -> list[int]:
        with _stream._scratch(8 << 20, 8 << 20):
            pass
        return [len(pair[1]) for pair in getattr(_stream._spare, "pairs", [])]

    kept: list[int] = []
    thread = threading.Thread(target=lambda: kept.extend(use()))
    thread.start()
    thread.join()
    assert kept == []
