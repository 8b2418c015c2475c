"""Transcripts: exact bits and index, JSON round trip, replay, and replay catching tampering."""

from __future__ import annotations

import json

import pytest
from bitarray import frozenbitarray

from protocols import PointerChasing, ReplayMismatch, Transcript, replay, run
from protocols.library import LIBRARY


def setup(name="one-hop-per-round", q=32, k=4, batch=20, version="decision", **kw):
    pc = PointerChasing(q=q, k=k, version=version, **kw)
    inst = pc.sample(batch, seed=4)
    p = LIBRARY[name](pc)
    return pc, inst, p, run(p, pc.inputs(inst), seed=9, public=pc.public(inst))


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_transcript_bits_and_index_match_the_board(name):
    pc, inst, p, r = setup(name)
    for b in (0, 7, r.batch - 1):
        t = r.transcript(b)
        assert isinstance(t.bits, frozenbitarray) and len(t.bits) == p.R * p.k * p.s
        assert t.bits.to01() == "".join(map(str, r.board[b].reshape(-1)))
        assert len(t.index) == p.R * p.k
        for m, (rr, i, start, stop, used) in enumerate(t.index):
            assert (rr, i) == divmod(m, p.k)
            assert (start, stop) == (m * p.s, (m + 1) * p.s) and used == r.used[rr, i]
            assert t.message(rr, i).to01() == "".join(map(str, r.board[b, rr, i]))
        assert t.output == r.outputs[b] and (t.instance, t.batch) == (b, r.batch)
        assert (t.name, t.k, t.R, t.s) == (p.name, p.k, p.R, p.s)
    with pytest.raises(IndexError, match="instance 20 outside the batch of 20"):
        r.transcript(20)


def test_transcript_view_is_the_packed_bytes():
    *_, r = setup()
    t = r.transcript(3)
    view = t.view()
    assert view[: len(t.bits)] == t.bits and len(view) == 8 * ((len(t.bits) + 7) // 8)
    assert not view[len(t.bits) :].any()


@pytest.mark.parametrize("name", sorted(LIBRARY))
@pytest.mark.parametrize("version", ["decision", "search"])
def test_json_round_trip_and_file_round_trip(name, version, tmp_path):
    *_, r = setup(name, version=version)
    t = r.transcript(5)
    text = t.to_json()
    d = json.loads(text)
    assert d["bits"] == t.bits.to01() and d["protocol"] == t.name and d["seed"] == r.seed
    back = Transcript.from_json(text)
    assert back == t and back.bits == t.bits and back.index == t.index and back.output == t.output
    t.save(tmp_path / "t.json")
    assert Transcript.load(tmp_path / "t.json") == t
    assert r.transcript(6) != t


@pytest.mark.parametrize("name", sorted(LIBRARY))
@pytest.mark.parametrize("order", ["hard", "easy"])
def test_replay_passes_for_every_library_protocol(name, order, tmp_path):
    pc, inst, p, r = setup(name, order=order, start=None)
    t = r.transcript(11)
    t.save(tmp_path / "t.json")
    again = replay(Transcript.load(tmp_path / "t.json"), p, pc.inputs(inst), pc.public(inst))
    assert (again.board == r.board).all() and (again.outputs == r.outputs).all()
    replay(r, p, pc.inputs(inst), pc.public(inst))  # a whole Run replays too


def test_replay_detects_a_tampered_message():
    pc, inst, p, r = setup()
    t = r.transcript(2)
    d = json.loads(t.to_json())
    m = 2 * p.k + 1  # round 2, speaker 1
    pos = m * p.s + 3
    d["bits"] = d["bits"][:pos] + ("1" if d["bits"][pos] == "0" else "0") + d["bits"][pos + 1 :]
    forged = Transcript.from_json(json.dumps(d))
    with pytest.raises(ReplayMismatch, match="instance 2: message of speaker 1 in round 2 differs at bit 3"):
        replay(forged, p, pc.inputs(inst), pc.public(inst))


def test_replay_detects_a_tampered_output_seed_and_batch():
    pc, inst, p, r = setup("guess")
    d = json.loads(r.transcript(0).to_json())
    d["output"] = 1 - d["output"]  # the board still says the original answer
    with pytest.raises(ReplayMismatch, match=f"instance 0: output {1 - d['output']}; recorded {d['output']}"):
        replay(Transcript.from_json(json.dumps(d)), p, pc.inputs(inst), pc.public(inst))
    d = json.loads(r.transcript(0).to_json())
    d["seed"]["entropy"] = str(int(d["seed"]["entropy"]) + 1)
    outcomes = []
    for b in range(r.batch):  # a different coin seed changes some guess
        db = json.loads(r.transcript(b).to_json())
        db["seed"] = d["seed"]
        try:
            replay(Transcript.from_json(json.dumps(db)), p, pc.inputs(inst), pc.public(inst))
            outcomes.append(True)
        except ReplayMismatch:
            outcomes.append(False)
    assert not all(outcomes)
    with pytest.raises(ReplayMismatch, match="recorded batch has 20 instances; replay got 19"):
        replay(r.transcript(0), p, pc.inputs(inst[:19]), pc.public(inst[:19]))


def test_replay_detects_different_inputs():
    pc, inst, p, r = setup()
    other = pc.sample(r.batch, seed=99)
    with pytest.raises(ReplayMismatch, match="message of speaker"):
        replay(r, p, pc.inputs(other), pc.public(other))


def test_render_names_round_speaker_bits_and_values():
    pc, inst, p, r = setup(q=8, k=2)
    t = r.transcript(0)
    text = t.render(lambda rr, i, bits: f"<{rr}/{i}:{''.join(map(str, bits))}>")
    lines = text.splitlines()
    assert lines[0] == "one-hop-per-round: k=2 R=2 s=3 instance 0"
    assert len(lines) == 2 + p.R * p.k and lines[-1] == f"output: {t.output}"
    for line, (rr, i, start, stop, used) in zip(lines[1:-1], t.index, strict=True):
        assert line.startswith(f"round {rr} speaker {i} [")
        if used:
            assert f"<{rr}/{i}:{t.bits[start:stop].to01()}>" in line
        else:
            assert line.endswith("] -")
