#!/usr/bin/env python3
"""Single point of execution for Python users: installs on first use, then runs `batch`
with the given arguments and exits with its exit code."""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
os.chdir(here)
if not (os.path.exists("dist/cli/main.js") and os.path.isdir("node_modules")):
    installer = ["cmd", "/c", "install.bat"] if os.name == "nt" else ["bash", "install.sh"]
    subprocess.run(installer, check=True)
sys.exit(subprocess.call(["node", os.path.join("bin", "batch.js"), *sys.argv[1:]]))
