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
from typing import Any, NamedTuple

import jax

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
        collectives: names of the entry computation's instructions that are (or contain)
            collectives.
        outputs: one bool per output of the program (leaf order): True when the output depends,
            directly or transitively, on one of ``collectives``. With ``out_tree`` given, a dict
            keyed by the output leaf's path string (``jax.tree_util.keystr``).
        async_pairs: number of ``*-start`` collectives (asynchronous collectives the backend
            scheduled; 0 on CPU, which runs collectives synchronously).
    """

    collectives: tuple[str, ...]
    outputs: Any
    async_pairs: int


def _opcode(rhs: str) -> str | None:
    # rhs = "<type> <opcode>(<operands>), attrs"; the type may itself hold parentheses (tuples).
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
    return m.group(1) if m else None


def _parse(hlo_text: str) -> tuple[str, dict[str, dict[str, Any]]]:
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
        comp = computations[current]
        comp["instrs"][name] = {"opcode": _opcode(rhs), "refs": _NAME.findall(rhs)}
        comp["order"].append(name)
        if m.group(1):
            comp["root"] = name
    if entry is None:
        raise ValueError("hlo_text has no ENTRY computation; pass compiled.as_text()")
    return entry, computations


def collective_dependence(hlo_text: str, out_tree: Any = None) -> CollectiveDependence:
    """For each output of the compiled program, whether it depends on a collective.

    Args:
        hlo_text: optimized HLO, ``jitted.lower(*args).compile().as_text()``.
        out_tree: optional pytree with the structure of the program's outputs (e.g.
            ``jax.eval_shape(fn, *args)``) to label the outputs by path.

    Returns:
        A :class:`CollectiveDependence`.

    Raises:
        ValueError: no entry computation, or ``out_tree`` with a different number of leaves.
    """
    entry, comps = _parse(hlo_text)
    # Computations that contain a collective, directly or through the computations they call.
    contains: dict[str, bool] = {}

    def has_collective(comp_name: str, visiting: frozenset = frozenset()) -> bool:
        if comp_name in contains:
            return contains[comp_name]
        if comp_name in visiting:
            return False
        found = False
        for ins in comps[comp_name]["instrs"].values():
            if ins["opcode"] in COLLECTIVE_OPCODES or any(
                ref in comps and ref != comp_name and has_collective(ref, visiting | {comp_name})
                for ref in ins["refs"]
            ):
                found = True
                break
        contains[comp_name] = found
        return found

    instrs = comps[entry]["instrs"]
    collective = set()
    for name, ins in instrs.items():
        called = [r for r in ins["refs"] if r in comps and r not in instrs]
        is_collective = ins["opcode"] in COLLECTIVE_OPCODES
        if is_collective or any(has_collective(c) for c in called):
            collective.add(name)

    memo: dict[str, bool] = {}

    def depends(name: str) -> bool:
        stack, order = [name], []
        seen = set()
        while stack:  # iterative DFS (graphs can be deep)
            n = stack.pop()
            if n in seen or n in memo:
                continue
            seen.add(n)
            order.append(n)
            stack.extend(r for r in instrs[n]["refs"] if r in instrs)
        for n in reversed(order):
            operands = [r for r in instrs[n]["refs"] if r in instrs]
            memo[n] = n in collective or any(memo.get(r, False) for r in operands)
        return memo[name]

    root = comps[entry]["root"] or comps[entry]["order"][-1]
    if instrs[root]["opcode"] == "tuple":
        outputs = [r for r in instrs[root]["refs"] if r in instrs]
    else:
        outputs = [root]
    flags = [depends(o) for o in outputs]
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
