"""What many test folders share: the one way to start a bridge (``bridge.py``; as a
process: ``process.py``, beside a subprocess whose output is read line by line), and an
in-process network that reaches a bridge without a port by URL (``inprocess.py``)."""
