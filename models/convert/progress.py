"""How `python -m convert` reports: lines for people, or JSON lines for the app.

With JSON, stdout carries nothing but one JSON object per line:
  {"event": "progress", "stage": str, "done": int, "total": int}   (done of total stages; stage is what runs now)
  {"event": "done", "pack": DIR, "id": ID}                         (last line of a success)
  {"event": "error", "message": str}                              (last line of a failure)
Anything else written to stdout meanwhile (by this process or a library, from Python or native code) is sent to
stderr instead: sys.stdout and file descriptor 1 point at stderr while the report is open, and the JSON lines go
to a copy of the original stdout.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import TextIO


class Reporter:
    """Human-readable report: progress and the result on stdout, errors and notes on stderr."""

    def __enter__(self) -> Reporter:
        self._showwarning = warnings.showwarning
        warnings.showwarning = self._note
        return self

    def __exit__(self, *exc) -> None:
        warnings.showwarning = self._showwarning

    def _note(self, message, category, filename, lineno, file=None, line=None) -> None:
        print(f"note: {message}", file=sys.stderr, flush=True)

    def progress(self, stage: str, done: int, total: int) -> None:
        print(f"[{done}/{total}] {stage}", flush=True)

    def done(self, pack: str, pack_id: str) -> None:
        print(f"Pack '{pack_id}' written to {pack}", flush=True)

    def error(self, message: str) -> None:
        print(f"error: {message}", file=sys.stderr, flush=True)

    def result(self, obj: dict) -> None:
        """One JSON object as the command's whole output (the `check` command)."""
        print(json.dumps(obj), flush=True)


class JsonReporter(Reporter):
    def __enter__(self) -> JsonReporter:
        super().__enter__()
        sys.stdout.flush()
        self._saved = os.dup(1)
        os.dup2(2, 1)
        self._out: TextIO = os.fdopen(os.dup(self._saved), "w", encoding="utf-8")
        self._stdout = sys.stdout
        sys.stdout = sys.stderr  # Python's own prints too, wherever sys.stdout pointed
        return self

    def __exit__(self, *exc) -> None:
        sys.stdout.flush()
        sys.stdout = self._stdout
        self._out.close()
        os.dup2(self._saved, 1)
        os.close(self._saved)
        super().__exit__(*exc)

    def _emit(self, obj: dict) -> None:
        self._out.write(json.dumps(obj) + "\n")
        self._out.flush()

    def progress(self, stage: str, done: int, total: int) -> None:
        self._emit({"event": "progress", "stage": stage, "done": done, "total": total})

    def done(self, pack: str, pack_id: str) -> None:
        self._emit({"event": "done", "pack": pack, "id": pack_id})

    def error(self, message: str) -> None:
        self._emit({"event": "error", "message": message})
        super().error(message)

    def result(self, obj: dict) -> None:
        self._emit(obj)
