"""The slow path of the opening: bids whose content the token itself decrypts, one at a time, here.

A key source that never hands out content keys (an SKF UKey without a
private-key decryption: GM/T 0016's standard path) imports each bid's
wrapped key into the token, and the token decrypts the content, chunk by
chunk. Such a key cannot go to a worker process (it lives in this process's
session with the token), so the bid is opened here, by the very function a
worker runs (:func:`~bidcrypt.opening.worker.work`), while the workers go
on with the bids whose keys came out in software. Still one key operation
per bid (the import). A failure of the token while it decrypts (removed,
refused) is the machine's: a ``retry`` result, which stops the batch
cleanly and leaves the bid to the next run.
"""

from __future__ import annotations

from bidcrypt.i18n import Text
from bidcrypt.opening.worker import Job, Result, work

#: What the progress of an opening says when the token decrypts the content.
SLOW_PATH = Text(
    "the UKey decrypts the content itself (no private-key decryption in its library): "
    "the bids are decrypted on the UKey one at a time, which is slow",
    "该 U-KEY 的驱动不提供私钥解密，内容须在 U-KEY 内解密：投标文件逐个在 U-KEY 内解密，速度较慢",
)


def open_on_token(job: Job) -> Result:
    """Open the bid of *job*, whose content key is held by the token, in this process; close the key."""
    with job.content_key:
        return work(job)
