"""Progress for loops that take a while: a tqdm bar on a terminal, plain lines elsewhere.

A bar redraws itself with carriage returns, which is right on a terminal and wrong in a CI
log, a file or a pipe; there (or when tqdm is not installed: it is an optional dependency,
in the ``train`` extra) the same progress is written as one plain line per step, no
carriage returns. ``Trainer`` uses this through :class:`~deepgrad.train.callbacks.ProgressBar`
(a bar of batches per epoch), ``deepgrad tune`` through :class:`Progress` (a bar of trials)::

    with Progress(total=20, desc="tune fashion-mlp", unit="trial") as bar:
        for trial in range(20):
            ...
            bar.update(status=f"best {best:.4f}")
"""
from __future__ import annotations

import sys
import time


def is_terminal(stream) -> bool:
    """Whether ``stream`` is an interactive terminal (``isatty()``), False for files, pipes, StringIO."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


def have_tqdm() -> bool:
    """Whether tqdm can be imported (the ``train`` extra)."""
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def use_bar(stream, tty: bool | None = None) -> bool:
    """A bar (True) or plain lines (False) on ``stream``: ``tty`` forces the choice; otherwise a
    bar exactly when the stream is a terminal. Never a bar without tqdm."""
    use = is_terminal(stream) if tty is None else bool(tty)
    return use and have_tqdm()


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """``total`` steps of work, shown on ``stream`` (default ``sys.stderr``).

    On a terminal (or ``tty=True``) with tqdm installed: a tqdm bar (``leave=None``: a bar
    drawn below another one disappears when done, a top-level one stays). Otherwise each
    :meth:`update` writes one line ``"DESC: 3/20 trials  STATUS  (0:12 elapsed, ~1:08 left)"``.
    """

    def __init__(self, total: int | None, desc: str = "", stream=None, tty: bool | None = None, unit: str = "it",
                 leave: bool | None = None):
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._t0 = time.perf_counter()
        self.bar = None
        if use_bar(self.stream, tty):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, leave=leave, dynamic_ncols=True)

    def update(self, n: int = 1, status: str = "") -> None:
        """``n`` more steps done; ``status``: a short text shown after the count."""
        self.done += n
        if self.bar is not None:
            if status:
                self.bar.set_postfix_str(status, refresh=False)
            self.bar.update(n)
            return
        elapsed = time.perf_counter() - self._t0
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        timing = f"{_clock(elapsed)} elapsed"
        if self.total and 0 < self.done < self.total:
            timing += f", ~{_clock(elapsed / self.done * (self.total - self.done))} left"
        units = self.unit + ("s" if self.unit and (self.total or self.done) != 1 else "")
        text = "  ".join(p for p in (f"{self.desc}: {count} {units}".strip(), status, f"({timing})") if p)
        print(text, file=self.stream, flush=True)

    def write(self, text: str, file=None) -> None:
        """Print a line to ``file`` (default: the progress stream) without breaking the bar."""
        file = file if file is not None else self.stream
        if self.bar is not None:
            from tqdm.auto import tqdm

            tqdm.write(text, file=file)
        else:
            print(text, file=file, flush=True)

    def writer(self, file):
        """A file-like object for ``print(..., file=...)``: its lines go through :meth:`write`."""
        return _LineWriter(self, file) if self.bar is not None else file

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _LineWriter:
    """Collects text written to it and hands complete lines to ``Progress.write``."""

    def __init__(self, progress: Progress, file):
        self.progress, self.file, self._buf = progress, file, ""

    def write(self, text: str) -> int:
        self._buf += text
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            self.progress.write(line, self.file)
        return len(text)

    def flush(self) -> None:
        if self._buf:
            self.progress.write(self._buf, self.file)
            self._buf = ""

    def isatty(self) -> bool:
        return is_terminal(self.file)
