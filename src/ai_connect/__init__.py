"""ai-connect: a message bridge for AI coding agents."""

from ai_connect import _moved

__version__ = "0.1.0"

__all__ = ["__version__"]

_moved.install()  # old import paths of moved modules keep working (_moved.MOVED)
