"""Auditing how public functions answer bad input (used by the test suite and by users' own code).

A :class:`BadCall` is one call a user could plausibly make with a bad argument: a wrong rank or
shape, NaN or inf in an array, an out-of-range scalar, a value of the wrong type. :func:`classify`
makes the call and sorts the outcome into one of three kinds:

- ``"clear"``: a ``ValueError`` or ``TypeError`` (or the case's own ``errors``, e.g.
  ``FileNotFoundError``) whose message names the bad argument as it is spelled in the signature
  (``BadCall.arg``);
- ``"silent"``: no exception at all, so the caller gets NaN or a wrong answer;
- ``"obscure"``: any other exception, or a ValueError/TypeError that does not name the argument
  (an error from deep inside JAX or Flax, an IndexError, a ZeroDivisionError...).

:func:`audit` runs a list of calls and returns the counts, and :func:`public_callables` lists what
a package exports, so that an audit can show which public functions it has no bad call for.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

KINDS = ("clear", "silent", "obscure")


@dataclasses.dataclass(frozen=True)
class BadCall:
    """One bad call.

    Attributes:
        function: the public name called, ``"jaxml.vae.ppca_posterior"``.
        arg: the argument that is bad, spelled as in the signature (the error must name it).
        what: a few words on what is wrong (``"sigma2 = 0"``, ``"NaN in x"``).
        call: the zero-argument function that makes the call.
        errors: the exception types that count as clear (``FileNotFoundError`` for a missing
            file or folder, whose message must still name the argument).
    """

    function: str
    arg: str
    what: str
    call: Callable[[], Any]
    errors: tuple[type[BaseException], ...] = (ValueError, TypeError)


def bad_calls(
    function: str,
    arg: str,
    items: Iterable[tuple[str, Callable[[], Any]]],
    errors: tuple[type[BaseException], ...] = (ValueError, TypeError),
) -> list[BadCall]:
    """``[BadCall(function, arg, what, call, errors) for what, call in items]``: a table's rows."""
    return [BadCall(function, arg, what, call, errors) for what, call in items]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one :class:`BadCall` was answered: its kind (see :data:`KINDS`) and the error text."""

    case: BadCall
    kind: str
    error: str


def names_argument(message: str, arg: str) -> bool:
    """Whether ``message`` names ``arg`` as a word (``x`` is not found inside ``max``)."""
    return re.search(rf"(?<![\w.]){re.escape(arg)}(?!\w)", message) is not None


def classify(case: BadCall) -> Outcome:
    """Makes ``case.call()`` and sorts the outcome (see the module docstring)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case.call()
    except Exception as e:  # noqa: BLE001 - any exception is what we are measuring
        text = f"{type(e).__name__}: {e}"
        clear = isinstance(e, case.errors) and names_argument(str(e), case.arg)
        return Outcome(case, "clear" if clear else "obscure", text)
    return Outcome(case, "silent", "")


@dataclasses.dataclass(frozen=True)
class AuditReport:
    """The outcomes of :func:`audit`, with their counts and the share of clear errors."""

    outcomes: tuple[Outcome, ...]

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(o.kind for o in self.outcomes)
        return {k: c.get(k, 0) for k in KINDS}

    @property
    def clear_share(self) -> float:
        return self.counts["clear"] / max(len(self.outcomes), 1)

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind != "clear"]

    def format(self, *, limit: int = 50) -> str:
        """A text summary: the counts, then each call that did not get a clear error."""
        c = self.counts
        lines = [
            f"{len(self.outcomes)} bad calls: {c['clear']} clear errors "
            f"({100 * self.clear_share:.1f}%), {c['silent']} silent, {c['obscure']} obscure"
        ]
        for o in self.failures()[:limit]:
            err = o.error.splitlines()[0][:160] if o.error else "returned without error"
            lines.append(f"  {o.kind:8s} {o.case.function}({o.case.arg}: {o.case.what}) -> {err}")
        if len(self.failures()) > limit:
            lines.append(f"  ... and {len(self.failures()) - limit} more")
        return "\n".join(lines)


def audit(cases: Iterable[BadCall]) -> AuditReport:
    """Classifies every case (see :func:`classify`)."""
    return AuditReport(tuple(classify(c) for c in cases))


def public_callables(package: str) -> list[str]:
    """The public functions and classes that ``package`` exports in ``__all__``, fully named.

    Constants (tuples, ints, strings) and sub-modules are left out.
    """
    module = importlib.import_module(package)
    names = []
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        names.append(f"{package}.{name}")
    return names


def uncovered(
    packages: Sequence[str], cases: Iterable[BadCall], exempt: Iterable[str]
) -> list[str]:
    """Public callables of ``packages`` with no bad call among ``cases`` and not ``exempt``."""
    covered = {c.function for c in cases} | set(exempt)
    return [n for p in packages for n in public_callables(p) if n not in covered]
