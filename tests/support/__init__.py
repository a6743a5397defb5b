"""What many test folders share: the one way to start a bridge (``bridge.py``) and a
subprocess whose output is read line by line without sleeping (``process.py``)."""
