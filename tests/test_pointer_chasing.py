"""Pointer chasing (docs/definitions.md §2): sampler, validation, who holds what, and the chase vs an oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import InvalidInstance, PointerChasing
from protocols.sealing import is_sealed


def oracle_chase(layers: list[list[int]], start: int) -> list[int]:
    """v_1 = start, v_{j+1} = E_j(v_j), one instance, plain Python."""
    path = [start]
    for layer in layers:
        path.append(layer[path[-1]])
    return path


@pytest.mark.parametrize("functions", [False, True])
@pytest.mark.parametrize("q, k", [(2, 1), (3, 2), (7, 5), (64, 3), (1000, 8)])
def test_chase_matches_the_oracle_on_random_instances(q, k, functions):
    pc = PointerChasing(q=q, k=k, functions=functions, start=None)
    search = PointerChasing(q=q, k=k, functions=functions, start=None, version="search")
    inst = pc.sample(200, seed=q * 10 + k)
    classes = [int(2 * u >= q) for u in range(q)]  # default public partition
    assert inst.classes.tolist() == classes
    path, decision, end = inst.path(), pc.answer(inst), search.answer(inst)
    for b in range(inst.batch):
        layers = [layer[b].tolist() for layer in inst.layers]
        want = oracle_chase(layers, int(inst.start[b]))
        assert path[b].tolist() == want
        assert end[b] == want[-1] == pc.endpoint(inst)[b]
        assert decision[b] == classes[want[-1]]


@settings(max_examples=60, deadline=None)
@given(q=st.integers(2, 9), k=st.integers(1, 5), data=st.data())
def test_user_given_permutations_chase_like_the_oracle(q, k, data):
    batch = data.draw(st.integers(1, 3))
    layers = [[data.draw(st.permutations(range(q))) for _ in range(batch)] for _ in range(k)]
    start = data.draw(st.lists(st.integers(0, q - 1), min_size=batch, max_size=batch))
    pc = PointerChasing(q=q, k=k, version="search")
    inst = pc.instances(layers, start=start)
    for b in range(batch):
        want = oracle_chase([layers[j][b] for j in range(k)], start[b])
        assert inst.path()[b].tolist() == want and pc.answer(inst)[b] == want[-1]


def test_sampled_layers_are_permutations_and_functions_stay_in_range():
    inst = PointerChasing(q=50, k=4).sample(300, seed=1)
    for layer in inst.layers:
        assert layer.shape == (300, 50)
        assert (np.sort(layer, axis=1) == np.arange(50)).all()
    f = PointerChasing(q=50, k=4, functions=True).sample(300, seed=1)
    assert all(((layer >= 0) & (layer < 50)).all() for layer in f.layers)
    assert any((np.sort(layer, axis=1) != np.arange(50)).any() for layer in f.layers)  # not all matchings


def test_sampler_is_seeded_and_uniform_enough():
    pc = PointerChasing(q=4, k=2, start=None)
    a, b, c = pc.sample(4000, seed=5), pc.sample(4000, seed=5), pc.sample(4000, seed=6)
    assert all((x == y).all() for x, y in zip(a.layers, b.layers, strict=True)) and (a.start == b.start).all()
    assert not all((x == y).all() for x, y in zip(a.layers, c.layers, strict=True))
    # E_1(0) is uniform on 4 values; the random start is uniform too (loose 5-sigma bounds).
    for counts in (np.bincount(a.layers[0][:, 0], minlength=4), np.bincount(a.start, minlength=4)):
        assert (np.abs(counts - 1000) < 5 * np.sqrt(4000 * 0.25 * 0.75)).all()
    assert PointerChasing(q=4, k=2).sample(10, seed=0).start.tolist() == [0] * 10


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_speaker_i_holds_E_k_minus_i_in_the_hard_order_and_E_i_plus_1_in_the_easy(k):
    hard, easy = PointerChasing(q=6, k=k), PointerChasing(q=6, k=k, order="easy")
    inst = hard.sample(3, seed=k)
    for i, x in enumerate(hard.inputs(inst)):
        assert hard.layer_of(i) == k - i and hard.speaker_of(k - i) == i
        assert x is inst.layers[k - i - 1]  # E_{k-i}: the last speaker holds E_1
    for i, x in enumerate(easy.inputs(inst)):
        assert easy.layer_of(i) == i + 1 and easy.speaker_of(i + 1) == i
        assert x is inst.layers[i]
    assert hard.public(inst)["start"] is inst.start
    with pytest.raises(InvalidInstance, match=f"speaker {k} outside 0..{k - 1}"):
        hard.layer_of(k)
    with pytest.raises(InvalidInstance, match=f"layer 0 outside 1..{k}"):
        hard.speaker_of(0)


def test_inputs_are_separate_arrays():
    pc = PointerChasing(q=8, k=3)
    inst = pc.sample(5, seed=0)
    xs = pc.inputs(inst)
    # sealed (immutable, docs/definitions.md §1.1), and no player's input is a view of another's
    assert all(is_sealed(x) for x in xs) and len({id(x.base) for x in xs}) == 3
    assert not any(np.shares_memory(xs[i], xs[j]) for i in range(3) for j in range(3) if i != j)


# ------------------------------------------------------------- validation
def test_rejects_a_layer_that_is_not_a_matching_naming_layer_instance_and_vertex():
    pc = PointerChasing(q=4, k=3)
    good = [[0, 1, 2, 3], [3, 2, 1, 0]]
    layers = [good, [[1, 0, 3, 2], [2, 2, 0, 1]], good]
    with pytest.raises(
        InvalidInstance,
        match=r"layer E_2 of instance 1 is not a matching: vertex 2 of V_3 is the image of two vertices",
    ):
        pc.instances(layers)
    PointerChasing(q=4, k=3, functions=True).instances(layers)  # fine as functions


@pytest.mark.parametrize(
    "layers, message",
    [
        ([[[0, 1, 2, 3]]] * 2, r"got 2 edge layers; k = 3"),
        ([[[0, 1, 2, 3]], [[0, 1, 2]], [[0, 1, 2, 3]]], r"layer E_2 has shape \(1, 3\); expected \(B, q\) = \(1, 4\)"),
        ([[[0, 1, 2, 3]], [[0, 1, 2, 3], [0, 1, 2, 3]], [[0, 1, 2, 3]]], r"layer E_2 has shape \(2, 4\)"),
        ([[0, 1, 2, 3]] * 3, r"layer E_1 has shape \(4,\)"),
        ([[[0, 1, 2, 3]], [[0, 1, 2, 3]], [[0, 1, 2, 4]]], r"layer E_3 maps to vertex 4, outside V_4 = 0..3"),
        ([[[0, -1, 2, 3]], [[0, 1, 2, 3]], [[0, 1, 2, 3]]], r"layer E_1 maps to vertex -1, outside V_2 = 0..3"),
        (
            [[[0.0, 1, 2, 3]], [[0, 1, 2, 3]], [[0, 1, 2, 3]]],
            r"layer E_1 has dtype float64; vertex labels are integers",
        ),
    ],
)
def test_rejects_wrong_shapes_counts_dtypes_and_out_of_range(layers, message):
    with pytest.raises(InvalidInstance, match=message):
        PointerChasing(q=4, k=3).instances(layers)


def test_rejects_bad_starts():
    pc = PointerChasing(q=4, k=1)
    with pytest.raises(InvalidInstance, match="start vertex 4 outside V_1 = 0..3"):
        pc.instances([[[0, 1, 2, 3]]], start=[4])
    with pytest.raises(InvalidInstance, match=r"start has shape \(2,\); expected \(1,\)"):
        pc.instances([[[0, 1, 2, 3]]], start=[0, 1])
    with pytest.raises(InvalidInstance, match="random starts"):
        PointerChasing(q=4, k=1, start=None).instances([[[0, 1, 2, 3]]])
    with pytest.raises(InvalidInstance, match="start vertex 7 outside V_1 = 0..3"):
        PointerChasing(q=4, k=1, start=7)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"q": 1, "k": 2}, r"q = 1; q must be an integer >= 2"),
        ({"q": 0, "k": 2}, r"q = 0"),
        ({"q": 4, "k": 0}, r"k = 0; k must be an integer >= 1"),
        ({"q": 4, "k": True}, r"k = True; k must be an integer, not a bool"),
        ({"q": 4.0, "k": 2}, r"q = 4.0"),
        ({"q": 4, "k": 2, "version": "both"}, r"version 'both' is not 'decision' or 'search'"),
        ({"q": 4, "k": 2, "order": "random"}, r"order 'random' is not 'hard' or 'easy'"),
        (
            {"q": 4, "k": 2, "classes": (0, 1, 1, 1)},
            r"classes put 3 of 4 vertices in class 1; the partition must be balanced",
        ),
        ({"q": 4, "k": 2, "classes": (0, 1, 2, 1)}, r"classes must be q = 4 values in \{0, 1\}"),
    ],
)
def test_rejects_bad_problems(kwargs, message):
    with pytest.raises(InvalidInstance, match=message):
        PointerChasing(**kwargs)
    assert issubclass(InvalidInstance, ValueError)


def test_rejects_bad_batch_and_mismatched_validate():
    with pytest.raises(InvalidInstance, match="batch = 0"):
        PointerChasing(q=4, k=2).sample(0)
    inst = PointerChasing(q=4, k=2).sample(3, seed=0)
    with pytest.raises(InvalidInstance, match=r"instances have \(q, k\) = \(4, 2\); problem has \(5, 2\)"):
        PointerChasing(q=5, k=2).validate(inst)
    again = PointerChasing(q=4, k=2).validate(inst)
    assert all((a == b).all() for a, b in zip(again.layers, inst.layers, strict=True))


def test_custom_classes_and_class_map_and_selection():
    pc = PointerChasing(q=4, k=2, classes=(1, 0, 1, 0))
    inst = pc.instances([[[1, 2, 3, 0], [0, 1, 2, 3]], [[3, 2, 1, 0], [1, 0, 3, 2]]], start=[0, 2])
    assert inst.path().tolist() == [[0, 1, 2], [2, 2, 3]]
    assert pc.answer(inst).tolist() == [1, 0]
    assert inst.class_map().tolist() == [[0, 1, 0, 1], [0, 1, 0, 1]]
    one = inst[1]
    assert one.batch == 1 and one.path().tolist() == [[2, 2, 3]]
    assert pc.answer_values == 2 and PointerChasing(q=4, k=2, version="search").answer_values == 4
