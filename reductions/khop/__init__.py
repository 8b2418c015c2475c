"""The k-hop induction heads task: find/hop, instances, samplers, the pointer-chasing encoder, the token chase."""
