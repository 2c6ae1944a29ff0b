"""The `fastchunk` command: bench, info and verify (main.py parses, one module per command)."""
from .main import main

__all__ = ["main"]
