"""The bridge: the pure router (``core``), its I/O shell (``server``) and storage (``store``)."""

__all__: list[str] = []
