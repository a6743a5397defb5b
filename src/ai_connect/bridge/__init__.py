"""The bridge: the pure router (``core`` and its parts; ``batch`` assembles each commit),
its I/O shell (``server`` reads, ``links`` writes) and storage (``store``)."""

__all__: list[str] = []
