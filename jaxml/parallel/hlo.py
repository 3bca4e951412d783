"""Which outputs of a compiled program depend on its collectives (all-reduce and friends).

DC-S3GD's point is that the weight update of step ``t`` does not wait for the all-reduce issued
at step ``t``: the collective and the update have no data dependence, so XLA's scheduler is free
to run them concurrently (on GPU it emits ``all-reduce-start`` / ``all-reduce-done`` pairs and
overlaps them with independent work). This module shows that from the compiled program: it
parses the optimized HLO text of ``jitted.lower(...).compile().as_text()``, builds the def-use
graph of the entry computation and reports, for each output, whether a collective lies on any
path to it. Synchronous SGD's new weights depend on the all-reduce; DC-S3GD's (``tau >= 1``) do
not -- only the ring buffer that stores the in-flight average does.
"""

import re
from collections.abc import Callable
from typing import Any, NamedTuple

import jax

from jaxml._validation import check_str

COLLECTIVE_OPCODES = (
    "all-reduce",
    "all-reduce-start",
    "all-reduce-done",
    "reduce-scatter",
    "all-gather",
    "all-gather-start",
    "all-gather-done",
    "all-to-all",
    "collective-permute",
    "collective-permute-start",
    "collective-permute-done",
)
_HEADER = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_INSTR = re.compile(r"^\s*(ROOT\s+)?%([\w.\-]+)\s*=\s*(.*)$")
_NAME = re.compile(r"%([\w.\-]+)")


class CollectiveDependence(NamedTuple):
    """Result of :func:`collective_dependence`.

    Attributes:
        collectives: names of the entry computation's instructions that are collectives or call
            a computation (``while`` body, ``call``, ``fusion``, ``async-start``, ...) that
            contains one, directly or through further calls; such a call counts as a whole.
        outputs: one bool per output of the program (leaf order): True when the output depends,
            directly or transitively, on one of ``collectives``. With ``out_tree`` given, a dict
            keyed by the output leaf's path string (``jax.tree_util.keystr``).
        async_pairs: number of ``*-start`` collectives (asynchronous collectives the backend
            scheduled; 0 on CPU, which runs collectives synchronously).
    """

    collectives: tuple[str, ...]
    outputs: Any
    async_pairs: int


def _split_rhs(rhs: str) -> tuple[str | None, str, str]:
    """``(opcode, operand text, attribute text)`` of ``"<type> <opcode>(<operands>), attrs"``.

    The type may itself hold parentheses (tuples) and the operands may carry their types
    (``add(f32[] %a, f32[] %b)``): both are skipped by bracket depth, not by regex.
    """
    depth, i = 0, 0
    while i < len(rhs):  # skip the type: up to the first space at bracket depth 0
        c = rhs[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == " " and depth == 0:
            break
        i += 1
    m = re.match(r"\s*([a-z][a-z0-9\-]*)\(", rhs[i:])
    if not m:
        return None, "", rhs[i:]
    start = i + m.end()  # just after the opening parenthesis
    depth, j = 1, start
    while j < len(rhs) and depth:
        if rhs[j] in "([{":
            depth += 1
        elif rhs[j] in ")]}":
            depth -= 1
        j += 1
    return m.group(1), rhs[start : j - 1], rhs[j:]


def _parse(hlo_text: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """``(entry name, computations)``; per computation ``instrs[name] = {opcode, operands,
    attrs}`` (operand names and the names referenced in the attributes, e.g. ``to_apply=``,
    ``body=``, ``calls=``), ``order`` (text order) and ``root``."""
    computations: dict[str, dict[str, Any]] = {}
    entry, current = None, None
    for line in hlo_text.splitlines():
        if current is None:
            m = _HEADER.match(line.strip())
            if m and "=" not in line.split("{")[0].split("(")[0]:
                current = m.group(2)
                computations[current] = {"instrs": {}, "order": [], "root": None}
                if m.group(1):
                    entry = current
            continue
        if line.strip() == "}":
            current = None
            continue
        m = _INSTR.match(line)
        if not m:
            continue
        name, rhs = m.group(2), m.group(3)
        opcode, operands, attrs = _split_rhs(rhs)
        comp = computations[current]
        comp["instrs"][name] = {
            "opcode": opcode,
            "operands": _NAME.findall(operands),
            "attrs": _NAME.findall(attrs),
        }
        comp["order"].append(name)
        if m.group(1):
            comp["root"] = name
    if entry is None:
        raise ValueError("hlo_text has no ENTRY computation; pass compiled.as_text()")
    return entry, computations


def _any_reachable(
    roots: Any, children: Callable[[str], list[str]], own: Callable[[str], bool], what: str
) -> dict[str, bool]:
    """``value[n] = own(n) or any(value[c] for c in children(n))`` for every node reachable from
    ``roots``, evaluated in post-order (each node after all of its children) with an explicit
    stack, so that arbitrarily deep graphs do not hit Python's recursion limit. Every node is
    evaluated once (the memo is complete when a node is read). Raises ValueError on a cycle.
    """
    value: dict[str, bool] = {}
    on_path: set[str] = set()
    for root in roots:
        if root in value:
            continue
        stack = [(root, iter(children(root)))]
        on_path.add(root)
        while stack:
            node, pending = stack[-1]
            for child in pending:
                if child in value:
                    continue
                if child in on_path:
                    raise ValueError(f"hlo_text has a cycle through {what} %{child}")
                on_path.add(child)
                stack.append((child, iter(children(child))))
                break
            else:  # every child is evaluated: evaluate the node
                stack.pop()
                on_path.discard(node)
                value[node] = own(node) or any(value[c] for c in children(node))
    return value


def collective_dependence(hlo_text: str, out_tree: Any = None) -> CollectiveDependence:
    """For each output of the compiled program, whether it depends on a collective.

    Args:
        hlo_text: optimized HLO, ``jitted.lower(*args).compile().as_text()``.
        out_tree: optional pytree with the structure of the program's outputs (e.g.
            ``jax.eval_shape(fn, *args)``) to label the outputs by path.

    Returns:
        A :class:`CollectiveDependence`.

    Dependence is reachability along operand edges of the entry computation's def-use graph,
    evaluated in post-order (each instruction after all of its operands, iteratively, so that
    programs with long chains do not hit Python's recursion limit); the text order of the
    instructions is not relied on.

    Raises:
        ValueError: no entry computation, ``out_tree`` with a different number of leaves, or a
            cycle in the def-use graph or the call graph.
    """
    check_str(hlo_text, "hlo_text")
    if out_tree is not None and not jax.tree.leaves(out_tree):
        raise ValueError("out_tree must hold at least one leaf (or be None)")
    entry, comps = _parse(hlo_text)

    def called(comp_name: str, ins: dict) -> list[str]:
        return [r for r in ins["attrs"] if r in comps and r != comp_name]

    # Computations that contain a collective, directly or through the computations they call.
    calls = {
        c: sorted({r for ins in comps[c]["instrs"].values() for r in called(c, ins)}) for c in comps
    }
    contains = _any_reachable(
        list(comps),
        lambda c: calls[c],
        lambda c: any(ins["opcode"] in COLLECTIVE_OPCODES for ins in comps[c]["instrs"].values()),
        "computation",
    )

    instrs = comps[entry]["instrs"]
    collective = {
        name
        for name, ins in instrs.items()
        if ins["opcode"] in COLLECTIVE_OPCODES or any(contains[c] for c in called(entry, ins))
    }
    operands = {n: [r for r in ins["operands"] if r in instrs] for n, ins in instrs.items()}

    if not comps[entry]["order"]:
        raise ValueError("hlo_text has an ENTRY computation without instructions")
    root = comps[entry]["root"] or comps[entry]["order"][-1]
    if instrs[root]["opcode"] == "tuple":
        outputs = operands[root]
    else:
        outputs = [root]
    depends = _any_reachable(outputs, operands.__getitem__, collective.__contains__, "instruction")
    flags = [depends[o] for o in outputs]
    async_pairs = sum(1 for ins in instrs.values() if (ins["opcode"] or "").endswith("-start"))
    if out_tree is not None:
        paths = [
            jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(out_tree)[0]
        ]
        if len(paths) != len(flags):
            raise ValueError(
                f"out_tree has {len(paths)} leaves but the program has {len(flags)} outputs"
            )
        return CollectiveDependence(
            tuple(sorted(collective)), dict(zip(paths, flags, strict=True)), async_pairs
        )
    return CollectiveDependence(tuple(sorted(collective)), flags, async_pairs)
