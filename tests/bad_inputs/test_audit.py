"""The bad-input audit in the test suite: clear errors, nothing silent, every function covered."""

import pytest

from jaxml.testing import BadCall, audit, classify, names_argument, uncovered
from tests.bad_inputs.audit import PACKAGES, load_cases

# The target (issue 17): at least 95% of bad calls get a clear error, none is silent.
MIN_CLEAR_SHARE = 0.95


def _raise(exc):
    raise exc


def test_classify_sorts_the_three_kinds():
    clear = BadCall("f", "sigma2", "neg", lambda: _raise(ValueError("sigma2 must be > 0; got -1")))
    wrong_name = BadCall("f", "sigma2", "neg", lambda: _raise(ValueError("x must be > 0")))
    deep = BadCall("f", "x", "rank", lambda: _raise(IndexError("tuple index out of range")))
    silent = BadCall("f", "x", "nan", lambda: float("nan"))
    assert [classify(c).kind for c in (clear, wrong_name, deep, silent)] == [
        "clear",
        "obscure",
        "obscure",
        "silent",
    ]
    assert names_argument("x must be finite", "x") and not names_argument("max must be", "x")
    assert not names_argument("y.x must be", "x") and names_argument("(x) bad", "x")
    report = audit([clear, silent])
    assert report.counts == {"clear": 1, "silent": 1, "obscure": 0} and report.clear_share == 0.5


@pytest.fixture(scope="module")
def report_and_cases():
    cases, exempt = load_cases()
    return audit(cases), cases, exempt


def test_every_public_callable_has_bad_calls_or_a_stated_exemption(report_and_cases):
    _, cases, exempt = report_and_cases
    assert all(reason.strip() for reason in exempt.values())
    assert uncovered([f"jaxml.{p}" for p in PACKAGES], cases, exempt) == []


def test_no_bad_call_is_answered_silently(report_and_cases):
    report, _, _ = report_and_cases
    silent = [o for o in report.outcomes if o.kind == "silent"]
    assert not silent, report.format()


def test_bad_calls_get_clear_errors(report_and_cases):
    report, _, _ = report_and_cases
    assert report.clear_share >= MIN_CLEAR_SHARE, report.format()
