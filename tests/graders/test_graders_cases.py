"""Every case of tests/graders/equivalence_cases.py, by kind; the fast-path cases never reach the worker."""

from __future__ import annotations

import pytest
from equivalence_cases import CASES, FAST_PATH

from graders import math as gm
from graders.policy import GradingPolicy


def _id(case) -> str:
    return f"{case.kind}:{case.completion[-40:]!r}|{case.gold[:30]!r}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_case(case):
    policy = GradingPolicy(**case.policy)
    verdict = gm.grade(case.completion, case.gold, question=case.question, policy=policy)
    assert verdict.correct == case.correct, (verdict, case.peer)
    if case.reason is not None:
        assert verdict.reason == case.reason, verdict


def test_there_are_several_hundred_cases_of_every_kind_together():
    kinds = {c.kind for c in CASES}
    assert {"closed_form", "restatement", "no_box", "lenient", "labels", "sets", "gaps", "pinned",
            "fast_path"} <= kinds
    assert len(CASES) >= 400
    assert sum(not c.correct for c in CASES) >= 120  # wrong answers are cases too


@pytest.mark.parametrize(("completion", "gold"), FAST_PATH, ids=[f"{c[-30:]!r}" for c, _ in FAST_PATH])
def test_decided_without_the_slow_path(completion, gold, monkeypatch):
    def no_slow(*args, **kwargs):
        raise AssertionError("reached the slow path")

    monkeypatch.setattr(gm, "_slow", no_slow)
    gm._parse.cache_clear()
    gm.grade(completion, gold)
