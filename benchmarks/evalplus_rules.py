"""evalplus's comparison rules for HumanEval+ and MBPP+, turned into data for the sandbox's judge.

evalplus (`evalplus/evaluate.py` and `evalplus/eval/__init__.py::unsafe_execute`, `_special_oracle.py`)
compares each output with the reference's as follows, input by input and stopping at the first miss:
`out == exp`, except for a few tasks with special oracles (MBPP's `are_equivalent` accepts anything,
`sum_div` also accepts 0, `surface_Area` and `digit_distance_nums` also accept a value recomputed from
the input, some tasks compare as sets, some only whether the output is not None; HumanEval's
`find_zero` accepts any root of the polynomial); then, when the task has a tolerance (`atol`, which
becomes 1e-6 for the rest of the task once an expected output is a float), a miss may still pass as
`numpy.allclose(out, exp, rtol=1e-7, atol)` if the types and lengths agree.

The sandbox knows no benchmark: `output_check` computes all of that on the host (the per-input
tolerance the sticky `atol` reaches, the recomputed values) and hands the judge an `OutputCheck`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sandbox import OutputCheck

#: evalplus: outputs compared only as "is not None" (they are `re.Match` objects or None).
MBPP_OUTPUT_NOT_NONE_TASKS = ("check_str", "text_match_three", "text_starta_endb")
#: evalplus: outputs compared as sets.
MBPP_OUTPUT_SET_EQ_TASKS = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                            "larg_nnum", "intersection_array", "find_dissimilar", "Diff")
#: evalplus's `np.allclose(..., rtol=1e-07)`, and the atol it switches to once an output is a float.
RTOL = 1e-7
FLOAT_ATOL = 1e-6


def _surface_area(base_edge: float, height: float) -> float:
    """evalplus `_surface_Area` (the oracle of Mbpp/581)."""
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant) / 2)


def _digit_distance_nums(num1: int, num2: int) -> int:
    """evalplus `_digit_distance_nums` (the oracle of Mbpp/558)."""
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width), strict=True))


def is_floats(x: object) -> bool:
    """evalplus's `is_floats`: a float, or a non-empty list/tuple of floats."""
    if isinstance(x, float):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and all(isinstance(i, float) for i in x)


def reference_not_none(dataset: str, entry_point: str) -> bool:
    """Whether the reference run records only "is not None" for each output."""
    return dataset == "mbpp" and entry_point in MBPP_OUTPUT_NOT_NONE_TASKS


def needs_whole_outputs(dataset: str, entry_point: str) -> bool:
    """Whether a special oracle reads the expected outputs (so they must not be shipped as digests)."""
    if dataset == "humaneval":
        return entry_point == "find_zero"
    return dataset == "mbpp" and entry_point in (
        "are_equivalent", "sum_div", "surface_Area", "digit_distance_nums",
        *MBPP_OUTPUT_SET_EQ_TASKS, *MBPP_OUTPUT_NOT_NONE_TASKS)


def tolerances(atol: float, expected: Sequence[Any]) -> list[float]:
    """The tolerance evalplus applies at each input: `atol`, or 1e-6 from the first float output on."""
    out, current = [], atol
    for exp in expected:
        if current == 0 and is_floats(exp):
            current = FLOAT_ATOL
        out.append(current)
    return out


def output_check(dataset: str, entry_point: str, inputs: Sequence[Sequence[Any]], expected: Sequence[Any],
                 atol: float) -> OutputCheck:
    """The judge's comparison rules for one evalplus task and test set (`dataset`: "humaneval" | "mbpp")."""
    n = len(inputs)
    if dataset == "humaneval" and entry_point == "find_zero":  # the oracle runs before the atol switch
        return OutputCheck(kind="polynomial_root", tolerances=[atol] * n)
    steps = tolerances(atol, expected)
    if dataset != "mbpp":
        return OutputCheck(tolerances=steps, rtol=RTOL)
    if entry_point == "are_equivalent":
        return OutputCheck(kind="any")
    if entry_point in MBPP_OUTPUT_SET_EQ_TASKS:
        return OutputCheck(kind="set_equal", tolerances=steps, rtol=RTOL)
    if entry_point in MBPP_OUTPUT_NOT_NONE_TASKS:
        return OutputCheck(kind="not_none", tolerances=steps, rtol=RTOL)
    if entry_point == "sum_div":
        return OutputCheck(tolerances=steps, rtol=RTOL, alternatives=[0] * n)
    if entry_point == "digit_distance_nums":
        return OutputCheck(tolerances=steps, rtol=RTOL, alternatives=[_digit_distance_nums(*i) for i in inputs])
    if entry_point == "surface_Area":  # |out - oracle| <= atol (its outputs are ints: atol never switches)
        return OutputCheck(tolerances=steps, rtol=RTOL, alternatives=[_surface_area(*i) for i in inputs],
                           alternative_atol=atol)
    return OutputCheck(tolerances=steps, rtol=RTOL)
