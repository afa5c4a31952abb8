"""A UKey driver path that is no regular file (a FIFO, a directory) is refused before the loader sees it.

``dlopen`` on a FIFO blocks forever: a hostile or careless ``module-path``
must give a clear message and the driver's exit code, for PKCS#11 and SKF alike.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..conftest import run_bidcrypt


@pytest.mark.parametrize("scheme", ["pkcs11:token=bidder-a", "skf:"])
@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_driver_path_that_is_no_regular_file_is_refused(tmp_path: Path, scheme: str, kind: str) -> None:
    driver = tmp_path / "libdriver.so"
    if kind == "fifo":
        os.mkfifo(driver)
    else:
        driver.mkdir()
    result = run_bidcrypt("doctor", "--token", f"{scheme}?module-path={driver}", timeout=60)
    assert result.returncode == 10, result.stderr
    what = "FIFO" if kind == "fifo" else "directory"
    assert f"{what}" in result.stderr and "not a regular file" in result.stderr
    assert "Traceback" not in result.stderr
