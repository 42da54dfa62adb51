"""A child process's output, read by a thread as it comes: its pipe never fills, and a test can
wait for a line with a timeout (`scripts/editor`'s URL lines, `scripts/engine`'s ready line)."""

from __future__ import annotations

import queue
import threading
from typing import Any


class Output:
    """The lines of one stream, kept whole (`lines`, `text`) and handed out in turn (`next_line`)."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def next_line(self, timeout: float) -> str | None:
        """The next line, or None at the end of the stream or after `timeout` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def text(self) -> str:
        return "".join(self.lines)
