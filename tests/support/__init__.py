"""What many test folders share: the one way to start a bridge (``bridge.py``; as a
process: ``process.py``, beside a subprocess whose output is read line by line)."""
