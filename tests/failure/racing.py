"""Release n attempts at the same instant, each in its own thread with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def race(n: int, attempt: Callable[[int], object], *, join_timeout: float = 120) -> list[object]:
    """attempt(0..n-1) in n threads released together by a barrier; a result or the exception each."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[index] = attempt(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=join_timeout)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung"
    return results
