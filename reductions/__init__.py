"""reductions — k-hop induction heads, encoders, finite-precision models, and their protocols.

The bridge between sequence models and the communication world (DEFINITIONS §3–5).
"""

__all__: list[str] = []
