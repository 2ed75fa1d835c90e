"""The enqueue as a child process, for the kill test: after each committed chunk it prints the
deliveries written and waits for a line on stdin, so the parent kills it by progress.

    python -m tests.support.enqueue_child DATABASE_URL ISSUE_ID CHUNK BATCH_SIZE FOLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

from digest.db import make_engine
from digest.delivery.enqueue import enqueue_in_chunks
from tests.support.ledger import NOW
from tests.support.settings import make_test_settings


def said(written: int) -> None:
    print(written, flush=True)
    sys.stdin.readline()


def main() -> None:
    url, issue_id, chunk, batch_size, folder = sys.argv[1:6]
    settings = make_test_settings(Path(folder), url).model_copy(
        update={"enqueue_chunk": int(chunk), "batch_size": int(batch_size)}
    )
    engine = make_engine(url)
    enqueue_in_chunks(
        engine, settings, int(issue_id), clock=lambda: NOW, patience=5.0, on_chunk=said
    )
    print("done", flush=True)


if __name__ == "__main__":
    main()
