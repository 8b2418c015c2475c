"""The k-hop induction heads task: find/hop, instances, sequence samplers, the pointer-chasing encoder, the token chase."""
