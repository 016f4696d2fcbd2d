"""Process-local counters for operators, exposed at ``/metrics`` in the Prometheus text format.

Each instance counts its own events; a scraper sums them. Counters carry no labels with
personal data (no phone, address or account), only fixed names.
"""

from __future__ import annotations

import threading


class Counter:
    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help = help_text
        self._value = 0
        self._lock = threading.Lock()
        COUNTERS[name] = self

    def inc(self, amount: int = 1) -> None:
        with self._lock:
            self._value += amount

    @property
    def value(self) -> int:
        return self._value


COUNTERS: dict[str, Counter] = {}


def exposition() -> str:
    """Every counter in the Prometheus text exposition format (version 0.0.4)."""
    lines: list[str] = []
    for counter in COUNTERS.values():
        lines += [
            f"# HELP {counter.name} {counter.help}",
            f"# TYPE {counter.name} counter",
            f"{counter.name} {counter.value}",
        ]
    return "\n".join(lines) + "\n"
