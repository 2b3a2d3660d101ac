"""Constraints that a component attaches to its constructor arguments with ``typing.Annotated``.

A component's signature is its config schema: ``magnitude: Annotated[int, Range(0, 9)]`` both documents the
allowed values and lets :func:`fedpriv.config.validate.config_problems` reject ``defense.magnitude=10`` before any
data is loaded. ``Injected`` marks arguments that the trial supplies at build time (input shape, class count),
which therefore never appear in a config file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class Range:
    """Numeric bounds, inclusive unless ``low_open``/``high_open`` is set."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def check(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            return f"is out of range; allowed: {self.describe()}"
        return None

    def describe(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        if not self.low_open and not self.high_open:
            return f"{self.low:g} to {self.high:g}"
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


@dataclass(frozen=True)
class OneOf:
    """The value must be one of a fixed set (compared as given, e.g. lower-case op names)."""

    choices: tuple

    def __init__(self, choices: Iterable[Any]):
        object.__setattr__(self, "choices", tuple(choices))

    def check(self, value: Any) -> str | None:
        if value not in self.choices:
            return f"is not allowed; allowed values: {', '.join(map(str, self.choices))}"
        return None


@dataclass(frozen=True)
class Injected:
    """Supplied by the trial when it builds the component (not a config key)."""
