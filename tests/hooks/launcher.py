"""A stand-in agent process for the hook tests: ``launcher.py [AGENT ARGS] -- HOOK...``.

Waits for a "go" line on stdin, then runs HOOK with the rest of stdin as the hook's
input, and exits with its code. Its pid is what an MCP server started by this "agent"
would advertise; AGENT ARGS (e.g. ``-p``) show in its command line as an agent's would."""

import os
import subprocess
import sys

if __name__ == "__main__":
    hook = sys.argv[sys.argv.index("--") + 1 :]
    sys.stdin.readline()
    payload = sys.stdin.read()
    ready = os.environ.get("AI_CONNECT_HOOK_READY_FD", "")
    fds = (int(ready),) if ready.isdigit() else ()
    sys.exit(subprocess.run(hook, input=payload, text=True, pass_fds=fds).returncode)
