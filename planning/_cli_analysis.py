"""Subcommands of this concern (placeholder until implemented)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this concern's subcommands to the parser."""
