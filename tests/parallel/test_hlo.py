"""jaxml.parallel.collective_dependence on hand-written HLO text.

Expected answers are either determined by hand (small programs) or computed by a breadth-first
search over the edge lists the test itself generated the HLO text from (random programs), never
by parsing the text back.
"""

import collections
import random

import pytest

from jaxml.parallel import collective_dependence

REGION = """%region (a: f32[], b: f32[]) -> f32[] {
  %a = f32[] parameter(0)
  %b = f32[] parameter(1)
  ROOT %add = f32[] add(%a, %b)
}
"""


def _module(entry_lines, n_out, computations=REGION):
    body = "\n".join(f"  {line}" for line in entry_lines)
    outs = ", ".join(["f32[3]{0}"] * n_out)
    return (
        f"HloModule m, entry_computation_layout={{(f32[3]{{0}})->({outs})}}\n\n"
        f"{computations}\nENTRY %main (p: f32[3]) -> ({outs}) {{\n{body}\n}}\n"
    )


def test_diamond_after_the_all_reduce():
    # The old evaluation (DFS visit order used as a topological order, memo shared across
    # outputs) evaluated %c before %b and reported c as independent of the all-reduce.
    hlo = _module(
        [
            "%p = f32[3]{0} parameter(0)",
            "%ar = f32[3]{0} all-reduce(%p), replica_groups={{0,1}}, to_apply=%region",
            "%b = f32[3]{0} negate(%ar)",
            "%c = f32[3]{0} negate(%b)",
            "%a = f32[3]{0} add(%c, %b)",
            "ROOT %t = (f32[3]{0}, f32[3]{0}) tuple(%a, %c)",
        ],
        2,
    )
    dep = collective_dependence(hlo)
    assert dep.collectives == ("ar",)
    assert dep.outputs == [True, True]
    # The output order must not matter either.
    swapped = hlo.replace("tuple(%a, %c)", "tuple(%c, %a)")
    assert collective_dependence(swapped).outputs == [True, True]


def test_diamond_with_typed_operands_and_an_independent_output():
    # Operands printed with their types, as XLA does with some print options.
    hlo = _module(
        [
            "%p = f32[3]{0} parameter(0)",
            "%ar = f32[3]{0} all-reduce(f32[3]{0} %p), replica_groups={}, to_apply=%region",
            "%b = f32[3]{0} negate(f32[3]{0} %ar)",
            "%c = f32[3]{0} negate(f32[3]{0} %b)",
            "%a = f32[3]{0} add(f32[3]{0} %c, f32[3]{0} %b)",
            # a diamond that never touches the all-reduce
            "%u = f32[3]{0} exponential(f32[3]{0} %p)",
            "%v = f32[3]{0} negate(f32[3]{0} %u)",
            "%w = f32[3]{0} add(f32[3]{0} %v, f32[3]{0} %u)",
            "ROOT %t = (f32[3]{0}, f32[3]{0}, f32[3]{0}) tuple(%c, %w, %a)",
        ],
        3,
    )
    assert collective_dependence(hlo).outputs == [True, False, True]


def test_a_single_non_tuple_root():
    lines = [
        "%p = f32[3]{0} parameter(0)",
        "%ar = f32[3]{0} all-reduce(%p), to_apply=%region",
        "%b = f32[3]{0} negate(%ar)",
    ]
    assert collective_dependence(
        _module([*lines, "ROOT %c = f32[3]{0} negate(%b)"], 1)
    ).outputs == [True]
    assert collective_dependence(
        _module([*lines, "ROOT %c = f32[3]{0} negate(%p)"], 1)
    ).outputs == [False]


@pytest.mark.parametrize("n", [5000])
def test_long_chains_do_not_hit_the_recursion_limit(n):
    lines = [
        "%p = f32[3]{0} parameter(0)",
        "%ar = f32[3]{0} all-reduce(%p), to_apply=%region",
        "%x0 = f32[3]{0} negate(%ar)",
        "%y0 = f32[3]{0} negate(%p)",
    ]
    for i in range(1, n):
        lines.append(f"%x{i} = f32[3]{{0}} negate(%x{i - 1})")
        lines.append(f"%y{i} = f32[3]{{0}} negate(%y{i - 1})")
    # A chain that meets the all-reduce only at its far end, after many independent steps.
    lines.append("%z0 = f32[3]{0} add(%y0, %ar)")
    for i in range(1, n):
        lines.append(f"%z{i} = f32[3]{{0}} add(%z{i - 1}, %y{i})")
    lines.append(
        f"ROOT %t = (f32[3]{{0}}, f32[3]{{0}}, f32[3]{{0}}) tuple(%y{n - 1}, %x{n - 1}, %z{n - 1})"
    )
    assert collective_dependence(_module(lines, 3)).outputs == [False, True, True]


NESTED = (
    REGION
    + """
%body_ar (s: (s32[], f32[3])) -> (s32[], f32[3]) {
  %s = (s32[], f32[3]{0}) parameter(0)
  %i = s32[] get-tuple-element(%s), index=0
  %v = f32[3]{0} get-tuple-element(%s), index=1
  %r = f32[3]{0} all-reduce(%v), to_apply=%region
  ROOT %o = (s32[], f32[3]{0}) tuple(%i, %r)
}

%body_plain (s.1: (s32[], f32[3])) -> (s32[], f32[3]) {
  %s.1 = (s32[], f32[3]{0}) parameter(0)
  %i.1 = s32[] get-tuple-element(%s.1), index=0
  %v.1 = f32[3]{0} get-tuple-element(%s.1), index=1
  %n.1 = f32[3]{0} negate(%v.1)
  ROOT %o.1 = (s32[], f32[3]{0}) tuple(%i.1, %n.1)
}

%cond (c: (s32[], f32[3])) -> pred[] {
  %c = (s32[], f32[3]{0}) parameter(0)
  %ci = s32[] get-tuple-element(%c), index=0
  %k = s32[] constant(3)
  ROOT %lt = pred[] compare(%ci, %k), direction=LT
}

%inner (q: f32[3]) -> f32[3] {
  %q = f32[3]{0} parameter(0)
  ROOT %qr = f32[3]{0} all-reduce(%q), to_apply=%region
}

%outer (q.1: f32[3]) -> f32[3] {
  %q.1 = f32[3]{0} parameter(0)
  ROOT %cl = f32[3]{0} call(%q.1), to_apply=%inner
}

%fused (f: f32[3]) -> f32[3] {
  %f = f32[3]{0} parameter(0)
  ROOT %fe = f32[3]{0} exponential(%f)
}
"""
)


def test_collectives_inside_called_computations():
    hlo = _module(
        [
            "%p = f32[3]{0} parameter(0)",
            "%zero = s32[] constant(0)",
            "%init = (s32[], f32[3]{0}) tuple(%zero, %p)",
            "%w1 = (s32[], f32[3]{0}) while(%init), condition=%cond, body=%body_ar",
            "%g1 = f32[3]{0} get-tuple-element(%w1), index=1",
            "%w2 = (s32[], f32[3]{0}) while(%init), condition=%cond, body=%body_plain",
            "%g2 = f32[3]{0} get-tuple-element(%w2), index=1",
            "%cl2 = f32[3]{0} call(%p), to_apply=%outer",  # collective two calls deep
            "%fu = f32[3]{0} fusion(%p), kind=kLoop, calls=%fused",  # no collective inside
            "%fu2 = f32[3]{0} fusion(%g1), kind=kLoop, calls=%fused",  # fed by the while
            "%mix = f32[3]{0} add(%g2, %fu)",
            "ROOT %t = (f32[3]{0}, f32[3]{0}, f32[3]{0}, f32[3]{0}, f32[3]{0}) "
            "tuple(%g1, %g2, %cl2, %mix, %fu2)",
        ],
        5,
        NESTED,
    )
    dep = collective_dependence(hlo)
    assert dep.collectives == ("cl2", "w1")
    assert dep.outputs == [True, False, True, False, True]


def test_a_dependency_cycle_is_reported():
    hlo = _module(
        [
            "%p = f32[3]{0} parameter(0)",
            "%x = f32[3]{0} add(%p, %y)",
            "%y = f32[3]{0} negate(%x)",
            "ROOT %t = (f32[3]{0}) tuple(%y)",
        ],
        1,
    )
    with pytest.raises(ValueError, match="cycle"):
        collective_dependence(hlo)


def _bfs_depends(edges, collectives, node):
    """Whether a collective is reachable from ``node`` along ``edges[n]`` (its operands)."""
    seen, queue = {node}, collections.deque([node])
    while queue:
        n = queue.popleft()
        if n in collectives:
            return True
        for m in edges[n]:
            if m not in seen:
                seen.add(m)
                queue.append(m)
    return False


@pytest.mark.parametrize("seed", range(6))
def test_random_programs_match_a_breadth_first_search(seed):
    rng = random.Random(seed)
    n = 300
    names = [f"n{i}" for i in range(n)]
    edges = {"p": []}
    collectives = set()
    lines = ["%p = f32[3]{0} parameter(0)"]
    # Half of the instructions ("clean") take operands only from clean ones and are never
    # collectives, so that both answers occur; the others may use any earlier instruction.
    clean = {"p"}
    for i, name in enumerate(names):
        earlier = ["p", *names[:i]]
        if rng.random() < 0.5:
            clean.add(name)
            earlier = [e for e in earlier if e in clean]
        elif rng.random() < 0.03:
            edges[name] = [rng.choice(earlier)]
            collectives.add(name)
            lines.append(f"%{name} = f32[3]{{0}} all-reduce(%{edges[name][0]}), to_apply=%region")
            continue
        # Mostly short-range operands (long chains and diamonds), some long-range ones.
        k = rng.choice([1, 2, 2, 3])
        edges[name] = [
            earlier[max(0, len(earlier) - 1 - int(rng.expovariate(0.3)))]
            if rng.random() < 0.8
            else rng.choice(earlier)
            for _ in range(k)
        ]
        ops = ", ".join(f"%{e}" for e in edges[name])
        opcode = {1: "negate", 2: "add", 3: "clamp"}[k]
        lines.append(f"%{name} = f32[3]{{0}} {opcode}({ops})")
    outputs = rng.sample(names, 40)
    lines.append(
        f"ROOT %t = ({', '.join(['f32[3]{0}'] * len(outputs))}) "
        f"tuple({', '.join('%' + o for o in outputs)})"
    )
    expected = [_bfs_depends(edges, collectives, o) for o in outputs]
    assert 0 < sum(expected) < len(expected)  # the draw exercises both answers
    dep = collective_dependence(_module(lines, len(outputs)))
    assert dep.collectives == tuple(sorted(collectives))
    assert dep.outputs == expected
    # The text order of the instructions does not matter (HLO does not require def-before-use).
    body, root = lines[:-1], lines[-1]
    rng.shuffle(body)
    assert collective_dependence(_module([*body, root], len(outputs))).outputs == expected
