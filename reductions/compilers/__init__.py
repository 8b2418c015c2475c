"""Model-to-protocol compilers: the registry, one ``<family>_to_protocol`` module per family, and chunk splits."""
