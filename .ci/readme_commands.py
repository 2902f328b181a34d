"""Print one of the two fresh-machine commands from README.md: `demo` (first) or `test` (second)."""
import re
import sys
from pathlib import Path

readme = Path(__file__).resolve().parents[1] / "README.md"
block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)
commands = [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
print(commands[{"demo": 0, "test": 1}[sys.argv[1]]])
