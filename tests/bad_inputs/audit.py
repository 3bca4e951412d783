"""The bad-input audit: every public function of jaxml called with bad inputs, as a user would.

    python -m tests.bad_inputs.audit            # counts, then every call without a clear error
    python -m tests.bad_inputs.audit --all      # also list the clear errors' messages

Each ``cases_<package>.py`` beside this file defines ``CASES`` (a list of
:class:`jaxml.testing.BadCall`) and ``EXEMPT`` (public callables that take no argument a user can
get wrong, each with the reason). ``test_audit.py`` runs the same audit in the test suite.
"""

import argparse
import importlib
import sys
import time

from jaxml.testing import audit, uncovered

# Packages whose bad calls are audited; each has a cases_<package>.py here.
PACKAGES = (
    "data",
    "models",
    "train",
    "implicit",
    "vae",
    "parallel",
    "hyperbolic",
    "bench",
    "openml",
    "opinions",
    "tune",
    "compress",
    "perf",
)


def load_cases(packages=PACKAGES):
    """``(cases, exempt)`` gathered from every ``cases_<package>`` module."""
    cases, exempt = [], {}
    for p in packages:
        mod = importlib.import_module(f"tests.bad_inputs.cases_{p}")
        cases += mod.CASES
        exempt.update(mod.EXEMPT)
    return cases, exempt


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also print the clear errors")
    parser.add_argument("--only", action="append", default=[], help="a package (repeatable)")
    args = parser.parse_args(argv)
    packages = tuple(args.only) or PACKAGES
    t0 = time.perf_counter()
    cases, exempt = load_cases(packages)
    report = audit(cases)
    print(report.format(limit=10_000))
    if args.all:
        for o in report.outcomes:
            if o.kind == "clear":
                print(
                    f"  clear    {o.case.function}({o.case.arg}: {o.case.what}) -> {o.error[:160]}"
                )
    missing = uncovered([f"jaxml.{p}" for p in packages], cases, exempt)
    functions = len({c.function for c in cases})
    print(f"{functions} public callables exercised; without any bad call: {missing or 'none'}")
    print(f"audit took {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
