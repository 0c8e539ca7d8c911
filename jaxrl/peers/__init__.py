"""Peer-library programs for `jaxrl benchmark`. Each file here is a standalone script run by
the peer's own interpreter in its own virtual environment; none imports jaxrl, and none of
the peers is a dependency of jaxrl."""
