"""A small name -> implementation registry shared by every plug-in kind.

Pruners, retraining protocols, LR schedules, models, data sets and threshold rules each
own one :class:`Registry`. Names are lowercase; registering a name twice is an error
(a silent overwrite would make the winner depend on import order), and looking up an
unknown name raises with the list of valid ones so a typo in a config is one clear line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from shedding.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps lowercase names to entries of one plug-in kind.

    Args:
        kind: What the entries are, used in error messages ("pruner", "model", ...).

    Example:
        >>> PRUNERS = Registry("pruner")
        >>> @PRUNERS.register("gmp")
        ... def gmp(weights, sparsity): ...
        >>> PRUNERS.get("gmp") is gmp
        True
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that adds an entry under ``name``; raises on a duplicate name."""
        key = name.lower()
        if key != name:
            raise ValueError(f"{self.kind} names are lowercase: got {name!r}, use {key!r}")

        def add(entry: T) -> T:
            if key in self._entries:
                raise ValueError(f"{self.kind} {key!r} is already registered")
            self._entries[key] = entry
            return entry

        return add

    def add(self, name: str, entry: T) -> T:
        """Registers ``entry`` under ``name`` (non-decorator form)."""
        return self.register(name)(entry)

    def get(self, name: str) -> T:
        """Returns the entry for ``name``; raises :class:`ConfigError` listing valid names."""
        try:
            return self._entries[name.lower()]
        except KeyError:
            valid = ", ".join(sorted(self._entries))
            raise ConfigError(f"unknown {self.kind} {name!r}; valid choices: {valid}") from None

    def names(self) -> list[str]:
        """Sorted list of registered names."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
