"""Installs pip into the running interpreter from PyPI, using only the standard library.

Used by scripts/setup.sh where Debian's python3-venv (ensurepip) is missing: a pip wheel
can run itself to install itself.
"""

import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urljoin

INDEX = "https://pypi.org/pypi/pip/json"


def main() -> int:
    with urllib.request.urlopen(INDEX, timeout=60) as response:
        release = json.load(response)
    wheels = [u for u in release["urls"] if u["packagetype"] == "bdist_wheel"]
    if not wheels:
        print("no pip wheel found on PyPI; install python3-venv instead", file=sys.stderr)
        return 1
    url = urljoin(INDEX, wheels[0]["url"])
    with tempfile.TemporaryDirectory() as tmp:
        wheel = Path(tmp) / wheels[0]["filename"]
        with urllib.request.urlopen(url, timeout=120) as response:
            wheel.write_bytes(response.read())
        command = [sys.executable, f"{wheel}/pip", "install", "--quiet", str(wheel)]
        return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
