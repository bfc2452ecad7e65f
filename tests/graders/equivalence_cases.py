# ruff: noqa: E501  (a table of cases: one case per line reads best)
"""Equivalence cases for the math grader, one per line of a table, grouped by the kind of issue 11.

Each `Case(completion, gold, correct, ...)` says what a careful human grader decides. Many are
written after the kinds of cases other graders ship in their own suites (Math-Verify's tests,
inspect_ai's math scorer cases, NeMo-Skills' `math_equal` tests, Qwen2.5-Math's grader tests);
none is copied from a hidden set. `peer` records where a peer grader's own suite expects the
opposite verdict: those are conventions evalkit deliberately does not follow (listed in the
README policy), pinned here so a change of policy is a visible decision.

Used by tests/graders/test_graders_cases.py (every case must hold) and by
tests/perf/agreement_graders.py (agreement of evalkit and math-verify with these verdicts).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    completion: str
    gold: str
    correct: bool
    kind: str = ""
    question: str | None = None
    reason: str | None = None  # the verdict reason evalkit must give, when it matters
    policy: dict = field(default_factory=dict)  # GradingPolicy overrides
    peer: str = ""  # a peer suite that expects the opposite verdict, and why we differ


def _cases(kind: str, rows: list[tuple]) -> list[Case]:
    out = []
    for row in rows:
        completion, gold, correct, *rest = row
        extra = rest[0] if rest else {}
        out.append(Case(completion, gold, correct, kind=kind, **extra))
    return out


# -- kind 0: closed forms are answers; only a restatement of the question is not ----------------------

_CLOSED_FORMS = [  # (closed form, the plain number it equals)
    (r"10^3", "1000"), (r"1.0 \times 10^{3}", "1000"), (r"1.2 \times 10^{-3}", "0.0012"), (r"2^{10}", "1024"),
    (r"\binom{5}{2}", "10"), (r"\sqrt[3]{8}", "2"), (r"\ln(e^2)", "2"), (r"\log_2 8", "3"), (r"5!", "120"),
    (r"-1\frac{1}{2}", r"-\frac{3}{2}"), (r"3\frac{1}{4}", "3.25"), (r"\dbinom{6}{3}", "20"), (r"2^{-3}", r"\frac18"),
    (r"\log_{10} 1000", "3"), (r"\sqrt{49}", "7"), (r"\frac{10!}{8!}", "90"), (r"3^4", "81"), (r"\cos 0", "1"),
    (r"4!/2!", "12"), (r"\binom{10}{0}", "1"), (r"e^{\ln 5}", "5"), (r"\sqrt{2}\cdot\sqrt{8}", "4"),
    (r"1.5\times10^3", "1500"), (r"2.5 \cdot 10^{2}", "250"), (r"6.02 \times 10^{23}", "602000000000000000000000"),
    (r"10^{-2}", "0.01"), (r"\frac{2^5}{2^3}", "4"), (r"(-2)^3", "-8"), (r"\left(\frac{1}{2}\right)^{2}", "0.25"),
    (r"\sqrt{\frac{9}{4}}", r"\frac{3}{2}"), (r"7 \cdot 8", "56"), (r"\frac{12}{16}", r"\frac{3}{4}"),
    (r"2\cdot 3^2", "18"), (r"\tbinom{4}{2}", "6"), (r"100\%", "100"), (r"\frac{6!}{3!\,3!}", "20"),
    (r"1.5e3", "1500"), (r"3 \times 10^{0}", "3"), (r"\sqrt[4]{81}", "3"), (r"\log_3 81", "4"),
]

KIND0 = _cases("closed_form", [(rf"so the answer is $\boxed{{{form}}}$.", gold, True) for form, gold in _CLOSED_FORMS])
KIND0 += _cases("closed_form", [
    # a long but linear expression is evaluated; the work guards refuse only what is expensive
    ("\\boxed{" + "+".join(["1"] * 3000) + "}", "3000", True),
    ("\\boxed{" + "+".join(["1"] * 3000) + "}", "2999", False),
    ("\\boxed{" + " + ".join(f"\\frac{{1}}{{{k}\\cdot{k + 1}}}" for k in range(1, 200)) + "}", r"\frac{199}{200}", True),
    (r"\boxed{2^{2^{2^{2^{2^{2}}}}}}", "2", False, {"reason": "too_large"}),
    (r"\boxed{(10^{6})!}", "1", False),
    (r"\boxed{x^2 - x^2}", "0", True),
    (r"\boxed{\sin^2 x + \cos^2 x}", "1", True),
])
_RESTATED = [  # (question, restated answer, gold, an honest closed form of the same value or None)
    (r"Compute $123 \times 456$.", r"123 \times 456", "56088", None),
    (r"Compute $123 \cdot 456$.", r"123\times456", "56088", None),
    (r"What is $\dbinom{10}{4}$?", r"\binom{10}{4}", "210", None),
    (r"Evaluate $\log_2 64$.", r"\log_2 64", "6", None),
    (r"Find the value of $5!$.", r"5!", "120", None),
    (r"Compute $\sqrt{144}$.", r"\sqrt{144}", "12", None),
    (r"What is $2^{10}$?", r"2^{10}", "1024", None),
    (r"Compute $\frac{3}{4} + \frac{1}{8}$.", r"\frac{3}{4} + \frac{1}{8}", r"\frac{7}{8}", None),
    (r"Simplify $\sqrt{50} - \sqrt{18}$.", r"\sqrt{50}-\sqrt{18}", r"2\sqrt{2}", None),
    (r"Evaluate $\left(\frac{1}{2}\right)^{3}$.", r"\left(\frac12\right)^3", r"\frac18", None),
    (r"Compute $17^2 - 13^2$.", r"17^2-13^2", "120", None),
    (r"What is $7! / 5!$?", r"7!/5!", "42", None),
    (r"How many subsets does a set of 10 elements have?", "1024", "1024", r"2^{10}"),
    (r"In how many ways can 2 of 5 people be chosen?", "10", "10", r"\binom{5}{2}"),
    (r"How many ways can 5 books be arranged on a shelf?", "120", "120", r"5!"),
    (r"A cube has volume 8. What is its side length?", "2", "2", r"\sqrt[3]{8}"),
]
for _q, _restated, _gold, _honest in _RESTATED:
    KIND0 += _cases("restatement", [
        (rf"The answer is $\boxed{{{_restated}}}$.", _gold, _restated == _gold,
         {"question": _q} | ({} if _restated == _gold else {"reason": "unevaluated"})),
        (rf"The answer is $\boxed{{{_restated}}}$.", _gold, True),  # no question given: a closed form is correct
    ])
    if _honest:
        KIND0 += _cases("restatement", [(rf"So $\boxed{{{_honest}}}$.", _gold, True, {"question": _q})])
KIND0 += _cases("restatement", [
    # the earlier rule, kept as a named option, and no rule at all
    (r"\boxed{10^3}", "1000", False, {"policy": {"reject_unevaluated": "any"}, "reason": "unevaluated"}),
    (r"\boxed{5!}", "120", False, {"policy": {"reject_unevaluated": "any"}}),
    (r"\boxed{1.5 \times 10^3}", "1500", True, {"policy": {"reject_unevaluated": "any"}}),  # scientific notation
    (r"\boxed{-1\frac{1}{2}}", "-1.5", True, {"policy": {"reject_unevaluated": "any"}}),  # a mixed number
    (r"\boxed{33.5\%}", "0.335", True, {"policy": {"reject_unevaluated": "any", "percent": "fraction"}}),
    (r"\boxed{123 \times 456}", "56088", True,
     {"policy": {"reject_unevaluated": "never"}, "question": r"Compute $123 \times 456$."}),
    (r"\boxed{56088}", "56088", True, {"question": r"Compute $123 \times 456$."}),
    (r"\boxed{56089}", "56088", False, {"question": r"Compute $123 \times 456$."}),
    # an expression gold is not a plain number: restating part of the question is then no issue
    (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt{3}}{2}", True, {"question": r"Compute $\sin 60^\circ$; is it $\frac{\sqrt{3}}{2}$?"}),
])


# -- kind 1: completions without a box ---------------------------------------------------------------

KIND1 = _cases("no_box", [
    ("so the probability that Alice wins is 2/3.", "2/3", True),
    ("so the probability that Alice wins is 2/3.", "3", False),
    (r"Hence the ratio equals $\frac{10}{9}$.", r"\frac{10}{9}", True),
    (r"Hence the ratio equals $\frac{10}{9}$.", "9", False),
    (r"So the ordered pair is $(7, 6)$.", "(7,6)", True),
    (r"So the ordered pair is $(7, 6)$.", "6", False),
    (r"Therefore $x \geq 5$.", r"x \ge 5", True),
    (r"Therefore $x \geq 5$.", "5", False),
    (r"The matrix is $\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}$.", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", True),
    (r"The matrix is $\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}$.", "4", False),
    ("Final Answer: The largest $n$ is 34.", "34", True),
    ("Final Answer: The largest $n$ is 34.", "35", False),
    ("Final Answer: The final answer is $(0, 1)$. I hope it is correct.", "(0,1)", True),
    ("Final Answer: The final answer is $(0, 1)$. I hope it is correct.", "[0,1)", False),
    ("Final Answer: The final answer is $28\\%$. I hope it is correct.", "28", True),
    ("The answer is $\\frac{1}{2}$.", "0.5", True),
    ("The answer is -4.", "-4", True),
    ("The answer is -4.", "4", False),
    ("Answer: 12", "12", True),
    ("Answer: 12 apples", "12", True),
    ("the final answer is 3.5", r"\frac72", True),
    ("Thus $x = -3$.", "-3", True),
    ("Final Answer: Jane started growing Sphere 3 hours ago. I hope it is correct.", "3", True),
    ("Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.", "120", True),
    ("Final Answer: The maximum number of points in the domain of $f(x)$ is 19.", "19", True),
    ("The answer is 42 because geometry proves it", "42", True),
    ("42 because geometry proves it", "42", True),
    ("First compute 6*7.\n42", "42", True),
    ("Final answer: 42", "42", True),
    ("The perimeter is 7", "42", False),
    ("x^2 + 2*x + 1", "(x+1)^2", True),
    ("-1 + sqrt(3)", r"\sqrt{3}-1", True),
    ("(3*sqrt(5))/7", r"\frac{3\sqrt{5}}{7}", True),
    (r"\frac {1}{2}", "0.5", True),
    (r"$\left(1, 2\right)$", "(1,2)", True),
    ("odd $n$", "odd $n$", True),
    (r"$\text{E}$", "E", True),
    ("$E$", r"\text{E}", True),
    (r"$\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix}$", r"\begin{pmatrix}1&0\\0&1\end{pmatrix}", True),
    ("We find that $x \\lt 3$.", "x<3", True),
    ("Thus $x <= 2$ is our answer.", r"x \le 2", True),
    ("Answer \\( (9+1) \\)", "10", True),
    ("Answer \\[ 9 \\]", "9", True),
    ("Answer $$ 9 $$", "9", True),
    ("The answer is $x = 3$ or $x = 5$.", "3, 5", True),
    ("The answer is $x = 3$ or $x = 5$.", "3", False, {"reason": "hedged"}),
    ("The solutions are $x=1$ and $x=2$.", "1, 2", True),
    ("So there are 12 distinct sequences. I hope it is correct.", "12", True),
    ("so it costs $10,455 in total", "10455", True),
    ("It equals 1 000 exactly.", "1000", True),
    ("so the number is 10 which is 1,000.99m", "1000.99", True),
    ("the mass is 5kg", "5", True),
    ("The largest such integer is $\\boxed{}$ 17.", "17", True),  # an empty box echoes the instruction
    ("In total: 6 + 7 = 13", "13", True),
    ("I got $5 \\times 6 \\times 4 = 120$.", "120", True),
    ("no digits at all here", "1", False, {"reason": "no_answer"}),
    ("<think>the answer is 5", "5", False, {"reason": "no_answer"}),
    ("<think>maybe 4</think>The answer is 5.", "5", True),
    ("The value is $\\pi$.", r"\pi", True),
    ("The value is $\\pi$.", "3.14", False),
    ("Therefore, the answer is $\\sqrt{2}/2$.", r"\frac{\sqrt2}{2}", True),
    ("The roots are $2$ and $3$.", "2, 3", True),
    ("The roots are $2$ and $3$.", "3", False),
    ("The interval is $[2, 5)$.", "[2,5)", True),
    ("The interval is $[2, 5)$.", "[2,5]", False),
    ("The answer is \\(\\frac{3}{4}\\).", "0.75", True),
    ("Answer: $\\frac{3}{4}$ of the pie", r"\frac34", True),
    ("Answer: B", "B", True),
    ("The answer is (C).", "C", True),
    ("The answer is (C).", "D", False),
    ("So the final answer is Monday.", r"\text{Monday}", True),
    ("So the final answer is Monday.", r"\text{Tuesday}", False),
    ("**Final Answer**\n\n34", "34", True),
    ("The result is **34**.", "34", True),
    ("x = 5", "5", True),
    ("$-\\frac{10}{9}$", "-10/9", True),
    ("after simplifying we obtain $y = 2x + 1$", "y=2x+1", True),
    ("after simplifying we obtain $y = 2x + 1$", "2x+1", True),
    ("after simplifying we obtain $y = 2x + 1$", "2x-1", False),
    ("The distance is $3\\sqrt{13}$ units.", r"3\sqrt{13}", True),
    ("Total: $\\$16,\\!386.20$", "16386.20", True),
    ("The probability is 0.25, i.e. 25%.", "25", True),
])


# -- kind 2: a number counts only where it stands as one --------------------------------------------

_CODE_PAYLOADS = [
    "__import__('os').system('true') or 0",
    "open('marker', 'w').write('x') or 0",
    "getattr(__import__('pathlib').Path('marker'), 'touch')() or 0",
    "(1).__class__.__mro__[1].__subclasses__() or 0",
    "(lambda: open('marker', 'w'))() or 0",
    "[open('marker', 'w') for _ in [0]] or 0",
    "globals()['__builtins__']['open']('marker', 'w') or 0",
    "print(0)",
    "x = compute(); return 0",
]
KIND2 = _cases("lenient", [(payload, "0", False) for payload in _CODE_PAYLOADS])
KIND2 += _cases("lenient", [
    ("AZYUK2A", "2", False),
    ("The code is AB12CD.", "12", False),
    ("see version2 of the file", "2", False),
    ("the 5th term", "5", False),
    ("x_2 is the second root", "2", False),
    ("I think it is 1 or 2", "2", False, {"reason": "hedged"}),
    ("I think it is 1 or 2", "1", False, {"reason": "hedged"}),
    ("It is either 3 or 4.", "4", False),
    ("The answer is 1 or 2.", "2", False, {"reason": "hedged"}),
    ("The answer is 5 or 5.0.", "5", True),  # equal alternatives are no hedge
    ("so the answer is $\\frac{1}{2}$ or $0.5$", "0.5", True),
    ("so the answer is $3$ or $4$", "3", False, {"reason": "hedged"}),
    ("so the answer is $3$ or $4$", "3, 4", True),  # against a "find all" gold, "or" lists
    ("The answer is 7, or maybe 8", "8", False),
    ("I computed 12 or so and gave up", "12", False),
    ("\\boxed{1} or \\boxed{2}", "1", False, {"reason": "hedged"}),
    ("\\boxed{1}, or maybe \\boxed{2}", "2", False, {"reason": "hedged"}),
    ("\\boxed{1} no no no no no \\boxed{2}", "2", True),  # not one answer group: the last box counts
    ("\\boxed{3}, then after much more work the answer is \\boxed{4}", "4", True),
    ("\\boxed{3}, then after much more work the answer is \\boxed{4}", "3, 4", False),
    ("\\boxed{10} and then \\boxed{42}", "42", True),
    ("\\boxed{10} and then \\boxed{42}", r"\{10,42\}", False),
    (" ".join(["\\boxed{9}"] * 400) + " \\boxed{42}", "42", True),  # a flood of boxes buries nothing
    (" ".join(["\\boxed{9}"] * 400) + " \\boxed{42}", "9", False),
    ("The answer is 1 or 2, definitely 2", "2", False, {"reason": "hedged"}),  # a hedge, then a guess
])


# -- kind 3: labelled answers, the label on either side or on both ----------------------------------

KIND3 = _cases("labels", [
    (r"\boxed{(3,2)}", "(p,q)=(3,2)", True),
    (r"\boxed{(p,q)=(3,2)}", "(3,2)", True),
    (r"\boxed{(p,q)=(2,3)}", "(3,2)", False),
    (r"\boxed{4, 5}", "AB=4, CD=5", True),
    (r"\boxed{4, 6}", "AB=4, CD=5", False),
    (r"\boxed{AB = 4, CD = 5}", "4, 5", True),
    (r"\boxed{\frac{1}{\sqrt6}}", r"\frac{NO}{BO}=\frac{1}{\sqrt6}", True),
    (r"\boxed{\frac{NO}{BO}=\frac{1}{\sqrt6}}", r"\frac{\sqrt6}{6}", True),
    (r"\boxed{1}", "|AB|=1", True),
    (r"\boxed{2}", "|AB|=1", False),
    (r"\boxed{1}", "f(x)=1", True),
    (r"\boxed{f(x) = 1}", "1", True),
    (r"\boxed{2=x}", "2", True),
    (r"\boxed{2}", "2=x", True),
    (r"\boxed{x=2}", "2=x", True),
    (r"\boxed{2=x}", "x=2", True),
    (r"\boxed{3=x}", "x=2", False),
    (r"\boxed{(5,2),(7,2)}", "p=5,q=2;p=7,q=2", True),
    (r"\boxed{(5,2),(7,3)}", "p=5,q=2;p=7,q=2", False),
    (r"\boxed{p=5, q=2 \text{ and } p=7, q=2}", "(5,2),(7,2)", True),
    (r"\boxed{(x, y) = (5, 8) \text{ and } (8, 5)}", "(5, 8), (8, 5)", True),
    (r"\boxed{(x, y) = (5, 8) \text{ and } (8, 6)}", "(5, 8), (8, 5)", False),
    (r"\( y_1 = \boxed{-2(x - 1)^2 + 5} \) and \( y_2 = \boxed{3(x + 2)^2 - 2} \)",
     "y_{1}=-2 x^{2}+4 x+3, y_{2}=3 x^{2}+12 x+10", True),
    (r"\( y_1 = \boxed{3(x + 2)^2 - 2} \) and \( y_2 = \boxed{-2(x - 1)^2 + 5} \)",
     "y_{1}=-2 x^{2}+4 x+3, y_{2}=3 x^{2}+12 x+10", False),  # the labels say which is which
    (r"\boxed{a_{37} = 19, \quad a_3 = 2}", "a_3 = 2, a_{37} = 19", True),
    (r"\boxed{a_{37} = 2, \quad a_3 = 19}", "a_3 = 2, a_{37} = 19", False),
    (r"\boxed{k = 45} \quad \text{and} \quad \boxed{n = 2}", "k = 45, n = 2", True),
    (r"\boxed{x = -5,\ p = \frac{14}{3}}", r"-5, \frac{14}{3}", True),
    (r"\boxed{-10,-8,4}", r"a=4,\,-8,\,-10", True),
    (r"\boxed{p=-1,p=\frac{15}{8}}", r"p = -1 \text{ and } p = \dfrac{15}{8}", True),
    (r"\boxed{11:21}", r"V_{1}:V_{2}=11:21", True),
    (r"\boxed{7:32}", r"S_{MBCN}:S=7:32", True),
    (r"\boxed{7:31}", r"S_{MBCN}:S=7:32", False),
    (r"\boxed{1}", "A:B=1", True),
    (r"\boxed{\;\angle APC = 74^\circ\;}", r"74^\circ", True),
    (r"\boxed{y = 2x + 1}", "2x+1", True),
    (r"\boxed{2x+1}", "y=2x+1", True),
    (r"\boxed{x=1}", "y=1", False),  # different names: different statements
    (r"\boxed{f(y) = y}", "f(y) = y", True),
    (r"\boxed{n=1, 2, 3}", "n=1, 2, 3", True),
    (r"\boxed{n=2, 3, 4}", "n=1, 2, 3", False),
    (r"\boxed{D = (0, 1)}", "D = (0, 1)", True),
    (r"\boxed{D = (0, 1.5)}", "D = (0, 1)", False),
    (r"\boxed{x = 11}", r"x = 5+5+1 = 7 =11", True),
    (r"\boxed{z = 3+3 = 2}", "z = 1 + 1 = 2", True),
    (r"\boxed{11a+c}", "7 = 11a+c", False),
    (r"\boxed{0}", "a + 3z = 0", False),
    (r"\boxed{1}", "2x + z = 1", False),
    (r"\boxed{1}", "x + z = 1", False),  # a sum is no name
    (r"\boxed{y=-\frac{1}{2}x+\frac{3}{4}}", "2x+4y-3=0", True),
    (r"\boxed{x^2/16 + y^2/12 = 1/4}", "x^2/4 + y^2/3 = 1", True),
    (r"\boxed{-34x-45y+20z-100=0}", "34x+45y-20z+100=0", True),
    (r"\boxed{y = 2x + 2}", "2x - y + 1 = 0", False),
    (r"\boxed{k=1}", "1", True),
    (r"\boxed{1}", "k=1", True),
    (r"The answer is $x = \boxed{1 \pm \sqrt{19}}$.", r"1 \pm \sqrt{19}", True),
    (r"Thus $(p,q,r) = \boxed{(6,31,-1)}$.", "(6,31,-1)", True),
    (r"\boxed{x = \frac{1}{2}, x = \frac{-1 \pm \sqrt{13}}{4}}", r"x = \frac{1}{2}, x = \frac{-1 \pm \sqrt{13}}{4}", True),
    (r"\boxed{\frac{1}{2}, \frac{-1 + \sqrt{13}}{4}, \frac{-1 - \sqrt{13}}{4}}",
     r"x = \frac{1}{2}, x = \frac{-1 \pm \sqrt{13}}{4}", True),
])


# -- kind 4: inequalities and intervals as solution sets ---------------------------------------------

KIND4 = _cases("sets", [
    (r"\boxed{-x > -1}", "x < 1", True),
    (r"\boxed{x > -1}", "x < 1", False),
    (r"\boxed{-x >= -1}", r"x \le 1", True),
    (r"\boxed{-x > -1}", r"x \le 1", False),
    (r"\boxed{x \in [-2,7]}", r"-2 \le x \le 7", True),
    (r"\boxed{-2 \le x \le 7}", r"x \in [-2,7]", True, {"peer": "math-verify: interval gold, relation pred "
                                                                   "accepted only with allow_set_relation_comp"}),
    (r"\boxed{x \in [-2,7)}", r"-2 \le x \le 7", False),
    (r"\boxed{z \in \left[-\frac{3}{2}, -1\right] \cup \left[1, \frac{3}{2}\right]}", r"1\leq|z|\leq \frac{3}{2}", True),
    (r"\boxed{z \in \left[-\frac{3}{2}, -1\right] \cup \left(1, \frac{3}{2}\right]}", r"1\leq|z|\leq \frac{3}{2}", False),
    (r"\boxed{z \in \left[1, \frac{3}{2}\right]}", r"1\leq|z|\leq \frac{3}{2}", False),
    (r"\boxed{(0,1)}", "0<f(x)<1", True),
    (r"\boxed{(0,1]}", "0<f(x)<1", False),
    (r"\boxed{(-793, 10)}", "-793 < a < 10", True),
    (r"\boxed{x<2}", "2>x", True),
    (r"\boxed{x<2}", "2<x", False),
    (r"\boxed{x \ge 5}", "x >= 5", True),
    (r"\boxed{5 \le x}", r"x \geq 5", True),
    (r"\boxed{5 \ge x}", r"x \geq 5", False),
    (r"\boxed{x \ne 3}", r"(-\infty, 3) \cup (3, \infty)", True),
    (r"\boxed{x \neq 3}", "x != 3", True),
    (r"\boxed{x \neq 4}", "x != 3", False),
    (r"\boxed{(-\infty, 1) \cup (2, \infty)}", r"x < 1 \text{ or } x > 2", True),
    (r"\boxed{x < 1 \text{ or } x > 2}", r"(-\infty,1)\cup(2,\infty)", True),
    (r"\boxed{x < 1 \text{ or } x \ge 2}", r"(-\infty,1)\cup(2,\infty)", False),
    (r"\boxed{[0,1) \cup [1,2]}", "[0,2]", True),
    (r"\boxed{[0,1) \cup (1,2]}", "[0,2]", False),
    (r"\boxed{|x - 2| < 3}", "(-1, 5)", True),
    (r"\boxed{|x - 2| \le 3}", "(-1, 5)", False),
    (r"\boxed{|2x+1| > 5}", r"(-\infty,-3)\cup(2,\infty)", True),
    (r"\boxed{x^2 < 4}", "-2 < x < 2", True),
    (r"\boxed{x^2 \le 4}", "-2 < x < 2", False),
    (r"\boxed{x^2 - 5x + 6 > 0}", r"(-\infty, 2) \cup (3, \infty)", True),
    (r"\boxed{(x-1)^2 > 0}", r"x \ne 1", True),
    (r"\boxed{2x + 3 \le 7}", r"(-\infty, 2]", True),
    (r"\boxed{2x + 3 \le 7}", r"(-\infty, 2)", False),
    (r"\boxed{\frac{x}{2} > 1}", "x > 2", True),
    (r"\boxed{x > \sqrt{2}}", r"(\sqrt2, \infty)", True),
    (r"\boxed{x > 1.414}", r"(\sqrt2, \infty)", False),
    (r"\boxed{k \ge 2}", "k >= 2", True),
    (r"\boxed{[2, \infty)}", r"k \geq 2", True),
    (r"\boxed{(2, \infty)}", r"k \geq 2", False),
    (r"\boxed{x \in \{-1\} \cup [0,7)}", r"\{-1\} \cup [0,7)", True),
    (r"\boxed{x \in \{-1\} \cup [0,7]}", r"\{-1\} \cup [0,7)", False),
    (r"\boxed{(-\infty, \infty)}", r"\mathbb{R}", True),
    (r"\boxed{x \in \mathbb{R}}", r"(-\infty,\infty)", True),
    (r"\boxed{[-1, -\tfrac12) \cup (-\tfrac12, 0) \cup (0, 1) \cup (1, \infty)}",
     r"[-1, -\frac{1}{2}) \cup (-\frac{1}{2}, 0) \cup (0, 1) \cup (1, \infty)", True),
    (r"\boxed{(2,12) \cup (12,102)}", r"x \in (2, 12) \cup (12, 102)", True),
    (r"\boxed{1 < x < 3}", "x > 1, x < 3", False),  # a list of conditions is not read as one set
    (r"\boxed{x + y > 1}", "1 < x + y", True),
    (r"\boxed{2x + 2y > 2}", "x + y > 1", True),
    (r"\boxed{-x - y < -1}", "x + y > 1", True),
    (r"\boxed{x + y < 1}", "x + y > 1", False),
    (r"\boxed{f(2) < f(1) < f(4)}", "f(2) < f(1) < f(4)", True),
    (r"\boxed{x < 3}", r"(-\infty, 3)", True),
    (r"\boxed{x \le 3}", r"(-\infty, 3)", False),
    (r"\boxed{(-\infty, 3)}", r"x<3", True),
    (r"\boxed{t > 0}", r"(0, \infty)", True),
    (r"\boxed{[0,1)}", "[0,1)", True),
    (r"\boxed{[0,1)}", "(0,1)", False, {"reason": "different_brackets"}),
    (r"\boxed{-[0,1)}", "1", False),
    (r"\boxed{(3,1)}", r"\{1,3\}", False),
])


# -- kind 5: the smaller gaps -----------------------------------------------------------------------

KIND5 = _cases("gaps", [
    (r"\boxed{\frac{\sqrt{3}}{3} \approx 0.577}", r"\frac{\sqrt{3}}{3}", True),
    (r"\boxed{\frac{\sqrt{3}}{3}}", r"\frac{\sqrt{3}}{3} \approx 0.577", True),
    (r"\boxed{x = 1/3 \approx 0.33}", "1/3", True),
    (r"\boxed{x \approx 0.333}", "1/3", False),
    (r"\boxed{0.577}", r"\frac{\sqrt{3}}{3}", False),
    (r"is $\boxed{11,\! 111,\! 111,\! 100}$", "11111111100", True),
    (r"is $\boxed{32,\! 349}$", "32349", True),
    (r"is $\boxed{32, 349}$", "32349", False),
    (r"\boxed{\$15,\!000}", "15000", True),
    (r"\boxed{1.5\times10^3}", "1500", True),
    (r"\boxed{1.5\times10^3}", "15000", False),
    (r"\boxed{21,16,11}", "$21,16$ or $11$", True),
    (r"\boxed{21,16}", "$21,16$ or $11$", False),
    (r"\boxed{1,2,3}", "$1$ and $2$ and $3$", True),
    (r"\boxed{(3, 37, 3, 13), (3, 17, 3, 7), (3, 3, 2, 3), (3,17,3,7), (17,3,3,7), (37,3,3,13)}",
     "(37,3,3,13),(17,3,3,7),(3,37,3,13),(3,17,3,7),(3,3,2,3)", True),
    (r"\boxed{(3, 37, 3, 13), (3, 17, 3, 7), (3,17,3,7), (17,3,3,7), (37,3,3,13)}",
     "(37,3,3,13),(17,3,3,7),(3,37,3,13),(3,17,3,7),(3,3,2,3)", False),
    (r"\boxed{2, 2, 3}", "2, 3", True),
    (r"\boxed{\sqrt{\sqrt{2}}}", "2**(1/4)", True),
    (r"\boxed{2^{1/4}}", "2**(1/4)", True),
    (r"\boxed{2^{1/3}}", "2**(1/4)", False),
    (r"\boxed{x^{2}}", "x**2", True),
    (r"\boxed{33.5\%}", "0.335", True, {"policy": {"percent": "fraction"}}),
    (r"\boxed{33.5\%}", "0.335", False, {"peer": "inspect_ai: 33.5% equals 0.335 (we keep percent='strip', "
                                                  "no silent x100)"}),
    (r"\boxed{33.5}", "33.5\\%", True),
    (r"\boxed{\frac{1}{2}\%}", "0.005", True, {"policy": {"percent": "fraction"}}),
    (r"\boxed{28 \text{ percent}}", r"28\%", True),
    (r"\boxed{28 pct}", r"28\%", True),
    (r"\boxed{28 percentage}", r"28\%", True),
    (r"\boxed{185\\}", "185", True),
    (r"\boxed{\\frac{1}{5}}", r"\frac{1}{5}", True),
    (r"$\\boxed{\\left( \\frac{4}{5}, \\frac{1}{5} \\right)}$", r"$\\left(\\frac{4}{5},\\frac{1}{5}\\right)$", True),
    (r"$\\boxed{\\left( \\frac{4}{5}, \\frac{1}{5} \\right)}$", r"(\frac45, \frac15)", True),
    (r"$\\boxed{\\left( \\frac{4}{5}, \\frac{2}{5} \\right)}$", r"(\frac45, \frac15)", False),
    (r"\boxed{12:00}", "12:00", True),
    (r"\boxed{1:00}", "12:00", False),
    (r"\boxed{7:32}", "7:32", True),
    (r"\boxed{14:64}", "7:32", True),  # the same ratio
    (r"\boxed{7:33}", "7:32", False),
    (r"\boxed{4:30 \text{ p.m.}}", r"\text{4:30 p.m.}", True),
    (r"\boxed{4:30 \text{ a.m.}}", r"\text{4:30 p.m.}", False),
    (r"\boxed{F_n = \sum_{k=0}^{n-1} F_{n-k-1} F_k}", r"F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1}", True),
    (r"\boxed{F_n = \sum_{k=0}^{n-2} F_k F_{n-k-2}}", r"F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1}", False),
    (r"\boxed{\sum_{k=1}^{n} k}", r"\frac{n(n+1)}{2}", True),
    (r"\boxed{\sum_{k=1}^{n} k^2}", r"\frac{n(n+1)}{2}", False),
    (r"\boxed{\sum_{i=1}^{10} i}", "55", True),
    (r"\boxed{\prod_{k=1}^{5} k}", "120", True),
    (r"\boxed{\sum_{k=0}^{n} \binom{n}{k}}", "2^n", True),
    (r"\boxed{1 - \frac{1}{\mathrm{e}}}", r"1 - \frac{1}{e}", True),
    (r"\boxed{1 + \frac{1}{\mathrm{e}}}", r"1 - \frac{1}{\mathrm{e}}", False,
     {"peer": "math-verify (test_yujianll) expects these equal"}),
    (r"\boxed{\pm 2021}", "-2021, 2021", True),
    (r"\boxed{2021}", r"\pm 2021", False),
    (r"\boxed{\text{odd}}", "odd", True),
    (r"$odd$", r"\text{odd}", True),
    (r"$Even$", r"\text{Even}", True),
    (r"\boxed{\text{e}}", "e", True),
    (r"\boxed{d}", r"\text{E}", False),
    (r"\boxed{004}", "4", True),
    (r"\boxed{033}", "33", True),
    (r"\boxed{+033}", "33", True),
    (r"\boxed{-0}", "0", True),
    (r"\beginboxed{8\sqrt{6}}", r"8\sqrt{6}", True),
    (r"\boxed{74°}", r"74^\circ", True),
    (r"\boxed{10\text{ cm}}", "10", True),
    (r"\boxed{125\textnormal{ miles}}", "125 miles", True),
    (r"\boxed{0.06 \text{ yuan}}", r"0.06 \text{ yuan}", True),
    (r"\boxed{\frac{9}{4}\pi}", r"\frac94\pi", True),
    (r"\boxed{\sqrt 2+\sqrt 5}", r"\sqrt{2}+\sqrt{5}", True),
    (r"\boxed{1/2004!}", "1/2004!", True),
    (r"\boxed{1/2006!}", "1/2004!", False),
    (r"\boxed{2^{2025}}", "3^{2025}", False),
    (r"\boxed{\binom{2026}{1013}}", r"\binom{2026}{1013}", True),
    (r"\boxed{2024^{4046}}", r"2024^{4046}", True),
    (r"\boxed{\frac{6\sqrt{1789-240\sqrt{21}}+8\sqrt{1236-240\sqrt{21}}}{5}}", r"96-10\sqrt{21}", True),
    # decorated names are names of their own
    (r"\boxed{\hat{x} + 1}", r"1 + \hat{x}", True),
    (r"\boxed{\hat{x}}", "x", False),
    (r"\boxed{\overline{AB} = 5}", "5", True),
    (r"\boxed{\bar{x}}", r"\overline{x}", True),
    (r"\boxed{\vec{v} + \vec{w}}", r"\vec{w} + \vec{v}", True),
    (r"\boxed{\dbinom{6}{3}}", "20", True),
    # mixed numbers written in plain text, and what is not one
    ("The answer is 4 4/9.", "40/9", True),
    ("The answer is 4 4/9.", "4", False),
    ("11 5/6", "71/6", True),
    ("-4 4/9", "-40/9", True),
    ("1 000 4/9", "9004/9", True),
    ("11 7/6", "73/6", False),  # 7/6 is no proper fraction: not a mixed number
    ("11/10 4/9", "139/90", False),
    ("11 + 4/9", "103/9", True),
    ("There are 4 objects and 4/9 remain.", "4/9", True),
    # punctuation inside the math, and an ellipsis that is not
    (r"$\frac{1}{3}.$", r"\frac13", True),
    (r"$\frac{1}{3},$", r"\frac13", True),
    (r"\[\frac{1}{3}.\]", r"\frac13", True),
    (r"$(1,2).$", "(1,2)", True),
    (r"$5 \text{ cm}.$", "5", True),
    (r"$2^{10}.$", "2", False),
    ("The answer is $1/3.$", "1", False),
    (r"$1, 2, 3, ...$", "1, 2, 3", False),
    (r"$1, 2, 3, \ldots$", "1, 2, 3", False),
    (r"\boxed{1, 2, 3, \dots}", r"1, 2, 3, \ldots", True),
    ("The answer is 5...", "5", True),
])
_PINNED = [  # (completion, gold, evalkit's verdict, the peer that expects the opposite and why)
    # decimal commas: `1,5` is a list in evalkit (MATH writes 1,000 and lists with commas)
    ("1000,99", "1000.99", False, "math-verify reads a decimal comma"),
    ("1.22", "1,22", False, "math-verify reads a decimal comma"),
    ("0.111", "0,111", False, "math-verify reads a decimal comma"),
    ("Soucis : 2,74 $ a..", "2.74", False, "math-verify reads a decimal comma"),
    # numeric tolerance on exact answers: rel_tol=0 by default
    ("$0.0833333333333333$", r"\frac{1}{12}", False, "math-verify rounds to 6 decimals"),
    ("$(0.6,2.6667]$", r"(\frac{3}{5},\frac{8}{3}]", False, "math-verify rounds to 2 decimals in that test"),
    (r"$\begin{pmatrix}0.33\\0.2 \end{pmatrix}$", r"\begin{pmatrix}\frac{1}{3}\\ \frac{1}{5} \end{pmatrix}", False,
     "math-verify rounds to 2 decimals in that test"),
    (r"$\sqrt{17}$", "4.123105625617661", False, "math-verify rounds to 5 decimals in that test"),
    (r"\boxed{\frac{100}{3}}", "33.3", False, "Qwen2.5-Math accepts within rel_tol=1e-4"),
    # silent percent x100
    (r"\boxed{10\%}", "0.1", False, "Qwen2.5-Math and NeMo-Skills accept 10% for 0.1"),
    (r"\boxed{300}", "3", False, "Qwen2.5-Math accepts x100 and /100"),
    # math-verify's set/relation asymmetry: we compare solution sets both ways
    (r"\boxed{-2 \le x \le 7}", r"x \in [-2,7]", True, "math-verify without allow_set_relation_comp"),
    # inline math may not cross a line in math-verify; evalkit reads the number
    ("Answer $ \n 9 \n $", "$9$", True, "math-verify finds no answer: an inline $..$ across lines is not math"),
]
KIND5 += [Case(c, g, verdict, kind="pinned", peer=why) for c, g, verdict, why in _PINNED]


# -- kind 6: what must be decided in the fast path (no worker) --------------------------------------

FAST_PATH = [  # (completion, gold): each must be decided without the slow path
    (r"\boxed{7:32}", r"S_{MBCN}:S=7:32"), (r"\boxed{12:00}", "1:00"), (r"\boxed{\\frac{1}{2}}", "0.5"),
    (r"\boxed{\frac{\sqrt{3}}{3} \approx 0.577}", r"\frac{\sqrt3}{3}"), (r"\boxed{-[0,1)}", "1"),
    (r"\boxed{F_n = \sum_{k=0}^{n-1} F_{n-k-1} F_k}", r"F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1}"),
    (r"\boxed{\sum_{k=0}^{n} \binom{n}{k}}", "2^n"), (r"\boxed{1\leq|z|\leq \frac{3}{2}}", "[1, 1.5]"),
    (r"\boxed{x \in \mathbb{R}}", r"(-\infty,\infty)"), (r"\boxed{\angle APC = 74^\circ}", "74"),
    (r"\boxed{1.5e3}", "1500"), (r"\boxed{2**(1/4)}", r"\sqrt[4]{2}"), (r"\boxed{11,\! 111}", "11111"),
    (r"\boxed{x \approx 0.333}", "1/3"), (r"\boxed{y = 2x+1 \approx 3}", "y=2x+1"),
    (r"\boxed{(x-1)^2 > 0}", r"x \ne 1"), (r"\boxed{|2x+1| > 5}", r"x<-3 \text{ or } x>2"),
    (r"\boxed{" + "+".join(["1"] * 3000) + "}", "3000"), (r"\boxed{f(2) < f(1) < f(4)}", "f(2) < f(1) < f(4)"),
    (r"\boxed{\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix} + \begin{pmatrix}5 & 6 \\ 7 & 8\end{pmatrix}}",
     r"\begin{pmatrix}6 & 8 \\ 10 & 12\end{pmatrix}"),
    (r"\boxed{\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix} \begin{pmatrix}2 & 3 \\ 4 & 5\end{pmatrix}}",
     r"\begin{pmatrix}2 & 3 \\ 4 & 5\end{pmatrix}"),
]
KIND6 = _cases("fast_path", [
    (r"\boxed{\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix} + \begin{pmatrix}5 & 6 \\ 7 & 8\end{pmatrix}}",
     r"\begin{pmatrix}6 & 8 \\ 10 & 12\end{pmatrix}", True),
    (r"\boxed{\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix} + \begin{pmatrix}5 & 6 \\ 7 & 9\end{pmatrix}}",
     r"\begin{pmatrix}6 & 8 \\ 10 & 12\end{pmatrix}", False),
    (r"\boxed{\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix} \begin{pmatrix}2 & 3 \\ 4 & 5\end{pmatrix}}",
     r"\begin{pmatrix}2 & 3 \\ 4 & 5\end{pmatrix}", True),
    (r"\boxed{2\begin{pmatrix}1 \\ 2\end{pmatrix}}", r"\begin{pmatrix}2 \\ 4\end{pmatrix}", True),
    (r"\boxed{\left[\begin{array}{cc}1 & 2 \\3 & 4\end{array}\right]}", r"\begin{pmatrix}1 & 2 \\3 & 4\end{pmatrix}", True),
    (r"\boxed{\begin{bmatrix} 0 & 0 \\ 0 & 1 \end{bmatrix}}", r"\begin{pmatrix}0&0\\0&1\end{pmatrix}", True),
    (r"\boxed{\begin{pmatrix}\frac{1}{3x^{2/3}}&0\\-\sin(x)&0\end{pmatrix}}",
     r"\begin{pmatrix}\frac{1}{3\sqrt[3]{x}^2}&0\\-\sin(x)&0\end{pmatrix}", True),
])

# -- generated families: the same kinds over many values (fixed seed, verdicts by construction) ------


def _families() -> list[Case]:
    import math
    import random
    from fractions import Fraction

    rng = random.Random(11)
    out: list[Case] = []

    def add(kind: str, completion: str, gold: str, correct: bool, **extra) -> None:
        out.append(Case(completion, gold, correct, kind=kind, **extra))

    def frac(value: Fraction) -> str:
        if value.denominator == 1:
            return str(value.numerator)
        sign = "-" if value < 0 else ""
        return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"

    # kind 0: closed forms against the plain number they equal; one off is wrong
    for _ in range(40):
        a, b = rng.randint(2, 12), rng.randint(2, 9)
        add("closed_form", f"\\boxed{{{a}^{{{b}}}}}", str(a**b), True)
        add("closed_form", f"\\boxed{{{a}^{{{b}}}}}", str(a**b + 1), False)
    for _ in range(25):
        n = rng.randint(3, 20)
        k = rng.randint(0, n)
        add("closed_form", f"The answer is $\\binom{{{n}}}{{{k}}}$.", str(math.comb(n, k)), True)
        add("closed_form", f"\\boxed{{\\dbinom{{{n}}}{{{k}}}}}", str(math.comb(n, k) + 2), False)
    for n in range(2, 12):
        add("closed_form", f"\\boxed{{{n}!}}", str(math.factorial(n)), True)
        add("closed_form", f"\\boxed{{{n}!}}", str(math.factorial(n - 1)), False)
    for base in (2, 3, 5, 10):
        for e in range(1, 6):
            add("closed_form", f"\\boxed{{\\log_{{{base}}} {base**e}}}", str(e), True)
            add("closed_form", f"\\boxed{{\\sqrt[{e + 1}]{{{base ** (e + 1)}}}}}", str(base), True)
    for _ in range(25):
        mantissa = Fraction(rng.randint(11, 99), 10)
        e = rng.randint(-6, 8)
        value = mantissa * Fraction(10) ** e
        add("closed_form", f"\\boxed{{{float(mantissa)} \\times 10^{{{e}}}}}", frac(value), True,
            policy={"reject_unevaluated": "any"})
        add("closed_form", f"\\boxed{{{float(mantissa)} \\times 10^{{{e + 1}}}}}", frac(value), False)
    for _ in range(20):
        whole, num, den = rng.randint(1, 9), rng.randint(1, 8), rng.randint(9, 15)
        value = whole + Fraction(num, den)
        add("closed_form", f"\\boxed{{-{whole}\\frac{{{num}}}{{{den}}}}}", frac(-value), True)
        add("closed_form", f"\\boxed{{{whole}\\frac{{{num}}}{{{den}}}}}", frac(Fraction(whole * num, den)), False)

    # kind 0: restatements of the question, and honest answers to the same question
    for _ in range(40):
        a, b = rng.randint(12, 999), rng.randint(12, 999)
        op, value = rng.choice([("\\times", a * b), ("+", a + b), ("-", a - b)])
        question = f"Compute ${a} {op} {b}$."
        add("restatement", f"\\boxed{{{a} {op} {b}}}", str(value), False, question=question, reason="unevaluated")
        add("restatement", f"\\boxed{{{value}}}", str(value), True, question=question)
        add("restatement", f"\\boxed{{{value + 1}}}", str(value), False, question=question)
        add("restatement", f"\\boxed{{{a} {op} {b}}}", str(value), True)  # no question: a closed form
    for _ in range(15):
        a, b = rng.randint(2, 9), rng.randint(2, 6)
        add("restatement", f"\\boxed{{{a}^{{{b}}}}}", str(a**b), False, question=f"What is ${a}^{{{b}}}$?")
        add("restatement", f"\\boxed{{{a}^{{{b}}}}}", str(a**b), True,
            question=f"A tree branches into {a} at each of {b} levels. How many leaves are there?")

    # kind 1: completions without a box
    templates = ["so the answer is {}.", "Therefore the total is {}.", "Final Answer: The final answer is ${}$. I hope it is correct.",
                 "We conclude that the value equals ${}$.", "Answer: {}", "The result is {} (after simplifying).",
                 "Thus, the number of ways is {}.", "{}"]
    for _ in range(45):
        value = Fraction(rng.randint(-500, 500), rng.choice([1, 1, 1, 2, 3, 4, 7]))
        spelled = rng.choice([frac(value), f"{value.numerator}/{value.denominator}" if value.denominator > 1 else str(value)])
        template = rng.choice(templates)
        text = template.format(spelled if "$" in template or "\\" not in spelled else f"${spelled}$")
        add("no_box", text, frac(value), True)
        add("no_box", text, frac(value + 1), False)
    for _ in range(20):
        x, y = rng.randint(-20, 20), rng.randint(-20, 20)
        add("no_box", f"So the point is $({x}, {y})$.", f"({x},{y})", True)
        add("no_box", f"So the point is $({x}, {y})$.", str(y), False)
        add("no_box", f"Hence the answer is ${x}$ and then we check with {abs(y) + 100} trials.", str(x), True)

    # kind 2: numbers that do not stand as answers
    for _ in range(30):
        n = rng.randint(2, 99)
        word = rng.choice(["AB", "XYZ", "id", "v", "K"])
        add("lenient", f"The code is {word}{n}{rng.choice(['', 'Q', 'x'])}", str(n), False)
        add("lenient", f"I think it is {n} or {n + 1}", str(n + 1), False, reason="hedged")
        add("lenient", f"print({n})", str(n), False)
        add("lenient", f"It is {n}.", str(n), True)

    # kind 3: labelled answers, the label on either side or on both
    labels = ["x", "y", "n", "k", "a_1", "f(x)", "|AB|", "AB", "\\angle ABC", "P(A)", "f(3)"]
    for _ in range(40):
        value = Fraction(rng.randint(-50, 50), rng.choice([1, 2, 5]))
        label = rng.choice(labels)
        add("labels", f"\\boxed{{{label} = {frac(value)}}}", frac(value), True)
        add("labels", f"\\boxed{{{frac(value)}}}", f"{label}={frac(value)}", True)
        add("labels", f"\\boxed{{{frac(value)} = {label}}}", frac(value), True)
        add("labels", f"\\boxed{{{label} = {frac(value + 1)}}}", frac(value), False)
    for _ in range(20):
        p, q = rng.randint(1, 30), rng.randint(1, 30)
        add("labels", f"\\boxed{{(p,q) = ({p},{q})}}", f"({p},{q})", True)
        add("labels", f"\\boxed{{p = {p}, q = {q}}}", f"({p},{q})", True)
        add("labels", f"\\boxed{{q = {q}, p = {p}}}", f"p={p}, q={q}", True)
        if p != q:
            add("labels", f"\\boxed{{q = {p}, p = {q}}}", f"p={p}, q={q}", False)

    # kind 4: solution sets
    for _ in range(40):
        lo, hi = sorted(rng.sample(range(-30, 30), 2))
        a = rng.randint(1, 5)
        add("sets", f"\\boxed{{{lo} < x \\le {hi}}}", f"({lo}, {hi}]", True)
        add("sets", f"\\boxed{{{lo} < x \\le {hi}}}", f"[{lo}, {hi}]", False)
        add("sets", f"\\boxed{{{a}x > {a * lo}}}", f"({lo}, \\infty)", True)
        add("sets", f"\\boxed{{-{a}x > {-a * lo}}}", f"(-\\infty, {lo})", True)
        add("sets", f"\\boxed{{-{a}x > {-a * lo}}}", f"({lo}, \\infty)", False)
        mid, radius = rng.randint(-9, 9), rng.randint(1, 9)
        add("sets", f"\\boxed{{|x - ({mid})| \\le {radius}}}", f"[{mid - radius}, {mid + radius}]", True)
        add("sets", f"\\boxed{{|x - ({mid})| > {radius}}}",
            f"(-\\infty, {mid - radius}) \\cup ({mid + radius}, \\infty)", True)

    # kind 5: digit groups, ratios, approximations
    for _ in range(30):
        n = rng.randint(1000, 10**9)
        add("gaps", f"\\boxed{{{n:,}}}".replace(",", ",\\!"), str(n), True)
        add("gaps", f"\\boxed{{{n:,}}}".replace(",", "{,}"), str(n), True)
        add("gaps", f"The answer is {n:,}.".replace(",", " ") if n < 10**6 else f"The answer is {n:,}.", str(n), True)
        add("gaps", f"\\boxed{{{n + 1:,}}}".replace(",", "\\,"), str(n), False)
        a, b = rng.randint(1, 40), rng.randint(1, 40)
        g = math.gcd(a, b)
        add("gaps", f"\\boxed{{{a // g}:{b // g}}}", f"{a}:{b}", True)
        add("gaps", f"\\boxed{{{a}:{b + 1}}}", f"{a}:{b}", a * (b + 1) == b * a)  # equal only if proportional
    return out


FAMILIES = _families()

CASES: list[Case] = KIND0 + KIND1 + KIND2 + KIND3 + KIND4 + KIND5 + KIND6 + FAMILIES


# -- adversarial inputs: each must be decided (wrong) within the timeout ---------------------------

ADVERSARIAL = [
    "\\boxed{2^{2^{2^{2^{2^{2}}}}}}",
    "\\boxed{(10^6)!}",
    "\\boxed{10^{100000000}}",
    "\\boxed{9^{9^{9^{9^{9}}}}!}",
    "\\boxed{" + "{" * 60 + "1" + "}" * 60 + "}",
    "\\boxed{" + "(" * 400 + "1" + ")" * 400 + "}",
    "\\boxed{" + "+".join(["1"] * 3000) + "}",
    "\\boxed{" + "9" * 20000 + "}",
    "\\(" * 30000,
    "$" * 30001,
    "\\boxed{\\sin(10^{99999})}",
    "\\boxed{" + "*".join(["2^{999999}"] * 150) + "}",
    "\\boxed{" + "+".join(["\\binom{99999}{49999}"] * 40) + "}",
    "\\boxed{" + "+".join(["999!"] * 300) + "}",
    "\\boxed{" + "9" * 4200 + "}",
    "\\boxed{\\sum_{k=1}^{10^{9}} k}",
    "\\boxed{\\sum_{i=1}^{200} \\sum_{j=1}^{200} \\sum_{k=1}^{200} ijk}",
    "\\boxed{\\prod_{k=1}^{100000} k}",
    "\\boxed{x^{x^{x^{x^{x^{x}}}}}}",
    "\\boxed{" + "\\sqrt{" * 90 + "2" + "}" * 90 + "}",
    "\\boxed{" + "\\frac{1}{" * 45 + "2" + "}" * 45 + "}",
    "\\boxed{" + " or ".join(str(k) for k in range(2000)) + "}",
    "\\boxed{" + ", ".join(f"({k}, {k + 1})" for k in range(500)) + "}",
    "\\boxed{(x-1)(x-2)(x-3)(x-4)(x-5)(x-6)(x-7)(x-8)(x-9) > 0}",
    "\\boxed{0 < x < 1 < x < 2 < x < 3 < x < 4 < x < 5 < x < 6}",
    "\\boxed{1e400}",
    "\\boxed{10^{10^{10}} - 10^{10^{10}} + 3}",
    "The answer is " + "so " * 50000 + "3 or 4",
    "x" * 200000,
    "\\boxed{\\mathfrak{a} + (10^{6})! + 9^{9^{9^{9}}}}",  # unreadable for the fast path: worker, killed on time
]
