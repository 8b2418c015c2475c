"""Explicit model constructions (not trainable families): the log-depth k-hop transformer and its depth table."""
