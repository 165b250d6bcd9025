"""``run --progress json``: progress as JSON lines on stderr, for remote batch runners.

:class:`JsonProgress` is the part of :class:`rich.progress.Progress` that ``run`` drives
(tasks added, updated, advanced, removed; its console's notes), each change written as one
JSON object on its own line: ``{"event": "progress", "task": "steps", "done": 2,
"total": 5, "time": …}``; notes are ``{"event": "note", "text": …}``. ``-q`` silences it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from rich.text import Text

from .common import err_console


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stderr (nothing under ``-q``)."""
    err_console.out(json.dumps({"event": event, **fields, "time": round(time.time(), 3)}),
                    highlight=False)


@dataclass
class _Task:
    description: str
    total: float | None
    done: float = 0


class _Notes:
    """What ``progress.console.print`` writes: a note line, markup removed."""

    def print(self, *objects: Any, **_: Any) -> None:
        emit("note", text=" ".join(Text.from_markup(str(o)).plain for o in objects))


class JsonProgress:
    """A :class:`rich.progress.Progress` stand-in writing JSON lines."""

    def __init__(self) -> None:
        self.tasks: dict[int, _Task] = {}
        self.console = _Notes()
        self._next = 0

    def __enter__(self) -> JsonProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    @property
    def task_ids(self) -> list[int]:
        return list(self.tasks)

    def _emit(self, task_id: int) -> None:
        task = self.tasks[task_id]
        emit("progress", task=task.description, done=task.done, total=task.total)

    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        task_id, self._next = self._next, self._next + 1
        self.tasks[task_id] = _Task(description, total)
        self._emit(task_id)
        return task_id

    def update(self, task_id: int, *, description: str | None = None,
               completed: float | None = None, total: float | None = None, **_: Any) -> None:
        task = self.tasks[task_id]
        if description is not None:
            task.description = description
        if completed is not None:
            task.done = completed
        if total is not None:
            task.total = total
        self._emit(task_id)

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.tasks[task_id].done += advance
        self._emit(task_id)

    def remove_task(self, task_id: int) -> None:
        self.tasks.pop(task_id, None)

    def stop(self) -> None:
        return None
