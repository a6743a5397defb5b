"""ai-connect: a message bridge for AI coding agents."""

__version__ = "0.1.0"

__all__ = ["__version__"]
