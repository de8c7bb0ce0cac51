"""CLI subcommands, one module each (see :mod:`vssleval.cli` for the contract)."""
