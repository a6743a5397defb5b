"""Storage backends of the bridge behind one narrow protocol (``base.Store``)."""

__all__: list[str] = []
