"""Write your own blackboard protocol, measure it, read a transcript, and audit it.

What it shows
-------------
1. A ``protocols.Protocol`` subclass for pointer chasing (docs/definitions.md §1–2):
   the relay protocol, where each round the holder of the next edge layer
   advances the chase by one hop.  With R = k rounds it always succeeds;
   with fewer rounds it must guess, exactly as the lower bound predicts.
2. ``estimate_success``: success on sampled instances with a Clopper–Pearson
   interval, for R = k and R = k - 1.
3. One instance's transcript, bit for bit, with every message decoded.
4. ``audit_locality`` passing the honest protocol — and flagging a cheating
   variant that "succeeds" with one round of one bit by reading other
   players' inputs through a closure.

Run it (from the repository root, after ``pip install -e .``)::

    python examples/own_protocol.py            # q = 256, k = 4, 4000 trials
    python examples/own_protocol.py --small    # tiny sizes, a few seconds
"""

from __future__ import annotations

import argparse

import numpy as np

from protocols import (
    PointerChasing,
    Protocol,
    UInt,
    audit_locality,
    bits_for,
    estimate_success,
    run,
)


class Relay(Protocol):
    """One hop per round, written from scratch (compare ``protocols.library.OneHopPerRound``).

    In the hard order speaker ``i`` holds ``E_{k-i}``, so in round ``r`` the
    speaker holding ``E_{r+1}`` is ``k-1-r``: it reads the vertex its
    predecessor posted, applies its own matching and posts ``v_{r+2}``.  All
    other messages are empty (the engine pads them to s zero bits).  The last
    speaker's last message is the output, so it copies the class bit; if the
    chase has not reached ``V_{k+1}`` by then it can only flip a coin.
    """

    def __init__(self, problem: PointerChasing, R: int | None = None):
        self.pc = problem
        # One vertex label per message: s = ceil(log2 q) bits.
        self.vertex = UInt(bits_for(problem.q))
        super().__init__(k=problem.k, R=problem.k if R is None else R, s=self.vertex.width, name="relay")

    def message(self, round, speaker, board, own, coins):
        k, B = self.k, board.batch
        last_message = round == self.R - 1 and speaker == k - 1
        if round < k and speaker == k - 1 - round:
            # The vertex where the chase waits: public start in round 0, else on the board.
            if round == 0:
                v = board.public["start"]
            else:
                v = self.vertex.decode(board.message(round - 1, speaker + 1))
            nxt = own[np.arange(B), v].astype(np.int64)
            if round == k - 1:  # v_{k+1} reached: publish its class
                return self.pc.class_array[nxt][:, None]
            if not last_message:
                return self.vertex.encode(nxt)
        if last_message:
            if self.R >= k:  # speaker 0 posted the class bit in round k-1
                return board.message(k - 1, 0)[:, :1]
            # Too few rounds: private coins are all the last speaker has left.
            return coins.private.integers(0, 2, (B, 1)).astype(np.uint8)
        return np.zeros((B, 0), np.uint8)

    def output(self, last):
        return last[:, 0]


def cheater(problem: PointerChasing, world: list[np.ndarray]) -> Protocol:
    """R = 1, s = 1 and always right: below the lower bound, so it must be cheating.

    The closure holds every player's input (``world``), and the last speaker
    chases the whole graph itself.  The engine cannot stop a Python closure;
    ``audit_locality`` catches it by changing the other players' inputs and
    watching the message change.
    """
    order = [problem.layer_of(i) for i in range(problem.k)]

    class Peeker(Protocol):
        def message(self, round, speaker, board, own, coins):
            if speaker != problem.k - 1:
                return np.zeros((board.batch, 0), np.uint8)
            rows, v = np.arange(board.batch), board.public["start"]
            for layer in range(1, problem.k + 1):  # E_1, E_2, ... from whoever holds them
                v = world[order.index(layer)][rows, v].astype(np.int64)
            return problem.class_array[v][:, None]

        def output(self, last):
            return last[:, 0]

    return Peeker(k=problem.k, R=1, s=1, name="peeker")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--q", type=int, default=256, help="layer size q")
    ap.add_argument("--k", type=int, default=4, help="edge layers = players k")
    ap.add_argument("--trials", type=int, default=4000, help="Monte-Carlo trials per estimate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--small", action="store_true", help="tiny sizes (for the test suite)")
    args = ap.parse_args()
    if args.small:
        args.q, args.k, args.trials = 16, 3, 400
    pc = PointerChasing(q=args.q, k=args.k)

    # 1–2. Success with a Clopper–Pearson interval: R = k is enough, R = k - 1 is not.
    for R in (pc.k, pc.k - 1):
        est = estimate_success(Relay(pc, R=R), pc, args.trials, seed=args.seed)
        lo, hi = est.proportion_ci()
        print(
            f"relay R={R} s={est.s}: success {est.rate:.3f}  95% CI [{lo:.3f}, {hi:.3f}]  "
            f"({est.successes}/{est.trials})"
        )

    # 3. One transcript: every message of one instance, padded to s bits.
    inst = pc.sample(8, seed=args.seed + 1)
    relay = Relay(pc)
    r = run(relay, pc.inputs(inst), seed=args.seed + 2, public=pc.public(inst))
    codec = relay.vertex

    def name(rnd, spk, bits):  # rounds before k-1 carry vertices, round k-1 the class bit
        return f"class {bits[0]}" if rnd == pc.k - 1 else f"vertex {int(codec.decode(bits[None])[0])}"

    print(r.transcript(0).render(decode=name))
    print(f"true path {inst.path()[0].tolist()}, answer {int(pc.answer(inst)[0])}")

    # 4. Locality audit: the honest protocol passes ...
    report = audit_locality(relay, pc, trials=64, seed=args.seed + 3)
    print(f"audit relay: ok={report.ok} ({report.checked} messages re-run)")

    # ... and the cheat is caught.  It is audited on the very arrays it captured,
    # because that is where it reads from.
    world_inst = pc.sample(64, seed=args.seed + 4)
    world = [np.array(x) for x in pc.inputs(world_inst)]
    peek = cheater(pc, world)
    got = run(peek, world, seed=0, public=pc.public(world_inst)).outputs
    print(f"peeker R=1 s=1: success {np.mean(got == pc.answer(world_inst)):.3f} -- too good to be true")
    report = audit_locality(peek, pc, seed=args.seed + 5, inputs=world)
    print(f"audit peeker: ok={report.ok}")
    for v in report.violations:
        print(f"  flagged: {v}")
    assert not report.ok


if __name__ == "__main__":
    main()
