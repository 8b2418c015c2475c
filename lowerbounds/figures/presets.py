"""Grid sizes of the main job: ``quick`` (tests, CI), ``default`` (a few minutes on 2 cores), ``full`` (papers)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Preset", "PRESETS"]


@dataclass(frozen=True)
class Preset:
    """Every size the figures use.  ``c`` is the constant drawn with every Omega-bound."""

    name: str
    c: float = 1.0
    # tradeoff_map
    map_k: int = 3
    map_q: int = 16  # small enough that every family can be trained on it in seconds
    map_trials: int = 2000
    map_trained_width: int = 16
    # trained models on the map: trained on (map_q, map_k) pointer chasing with L = k - 1 layers
    trained_families: tuple[str, ...] = ("gru", "ssm", "kernel", "transformer")
    trained_steps: int = 300
    trained_trials: int = 500
    # trained_models: (tm_q, tm_k) small enough that training succeeds where the rounds allow it
    tm_q: int = 4
    tm_k: int = 2
    tm_families: tuple[str, ...] = ("gru", "kernel")
    tm_widths: tuple[int, ...] = (2, 8, 32)
    tm_steps: int = 1000
    # depth_hop: small transformers trained on hop_k by kparty (empty: none; the full preset trains them)
    depth_trained_ks: tuple[int, ...] = ()
    depth_trained_layers: tuple[int, ...] = (2, 3, 4, 5)
    depth_trained_steps: int = 1500
    # success_vs_bits
    svb_q: int = 1024
    svb_ks: tuple[int, ...] = (3, 4, 6)
    svb_points: int = 10
    svb_trials: int = 2000
    # threshold_scaling
    thr_qs: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)
    thr_ks: tuple[int, ...] = (3, 4, 6)
    thr_max_trials: int = 4096
    thr_resolution: float = 1.1
    # rounds_cliff
    cliff_k: int = 6
    cliff_q: int = 1024
    cliff_trials: int = 2000
    # model_budgets
    budget_k: int = 4
    budget_ns: tuple[int, ...] = (10**2, 10**3, 10**4, 10**5, 10**6)
    budget_run_n: int = 10**4  # compiled protocols are run through the engine up to this N
    budget_run_trials: int = 2
    # depth_hop
    depth_ks: tuple[int, ...] = tuple(range(1, 33))
    depth_layers: tuple[int, ...] = (2, 3, 4, 5, 6, 7)
    depth_trials: int = 1000
    depth_n: int = 100
    depth_alphabet: int = 4
    # mpc_rounds
    mpc_ks: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
    mpc_n: int = 4096
    mpc_delta: float = 0.5
    mpc_construction_n: int = 32
    mpc_trials: int = 2
    mpc_q: int = 2**20
    # threshold_exponent (lowerbounds.exponent)
    exp_qs: tuple[int, ...] = (1024, 4096)
    exp_k_min: int = 4
    exp_per_octave: int = 2
    exp_trials: int = 300


PRESETS: dict[str, Preset] = {
    "quick": Preset(
        "quick",
        map_trials=200,
        map_trained_width=8,
        trained_families=("gru",),
        trained_steps=100,
        trained_trials=200,
        tm_widths=(2, 8),
        tm_steps=300,
        svb_q=256,
        svb_ks=(3, 4),
        svb_points=6,
        svb_trials=300,
        thr_qs=(64, 128, 256),
        thr_ks=(3, 4),
        thr_max_trials=512,
        thr_resolution=1.2,
        cliff_k=4,
        cliff_q=256,
        cliff_trials=300,
        budget_ns=(10**2, 10**3, 10**4, 10**5),
        budget_run_n=10**3,
        depth_ks=tuple(range(1, 17)),
        depth_layers=(2, 3, 4, 5, 6),
        depth_trials=40,
        mpc_ks=(1, 2, 4, 8, 16),
        mpc_n=1024,
        mpc_construction_n=16,
        mpc_trials=1,
        exp_qs=(1024,),
        exp_k_min=16,
        exp_per_octave=4,
        exp_trials=150,
    ),
    "default": Preset("default"),
    "full": Preset(
        "full",
        map_q=64,
        map_trials=10000,
        trained_families=("elman", "gru", "lstm", "ssm", "kernel", "transformer"),
        trained_steps=3000,
        trained_trials=2000,
        tm_q=8,
        tm_k=3,
        tm_widths=(1, 2, 4, 8, 16, 32, 64),
        tm_steps=5000,
        depth_trained_ks=(1, 2, 3, 4, 6, 8),
        svb_q=4096,
        svb_ks=(3, 4, 6, 8),
        svb_points=14,
        svb_trials=10000,
        thr_qs=(64, 128, 256, 512, 1024, 2048, 4096, 8192),
        thr_ks=(3, 4, 6, 8),
        thr_max_trials=16384,
        thr_resolution=1.05,
        cliff_k=8,
        cliff_q=4096,
        cliff_trials=10000,
        budget_ns=(10**2, 10**3, 10**4, 10**5, 10**6, 10**7),
        budget_run_n=10**5,
        depth_trials=10000,
        mpc_ks=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256),
        mpc_n=2**16,
        mpc_construction_n=64,
        mpc_trials=5,
        exp_qs=(4096, 16384, 65536, 262144),
        exp_per_octave=2,
        exp_trials=2000,
    ),
}
