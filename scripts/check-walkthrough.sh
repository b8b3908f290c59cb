#!/usr/bin/env bash
# Keeps docs/walkthrough.md honest: runs every command in its ```sh blocks, checks that
# every link to a line (`file#Lnn`) lands on the function or kernel it names, and that every
# code fence in the docs stands on a line of its own and is closed.
set -euo pipefail
cd "$(dirname "$0")/.."
doc=docs/walkthrough.md

python3 - docs/*.md README.md kernels/README.md <<'PY'
import sys
bad = 0
for path in sys.argv[1:]:
    open_at = None
    for n, line in enumerate(open(path).read().split("\n"), 1):
        s = line.strip()
        if "```" in s and not s.startswith("```"):
            continue  # inline code that happens to hold backticks
        if s.startswith("```"):
            if open_at is None:
                open_at = n
            elif s == "```":
                open_at = None
            else:
                print(f"{path}:{n}: a closing fence with text after it (the block opened at line {open_at} never closes)")
                bad += 1
                open_at = None
    if open_at is not None:
        print(f"{path}:{open_at}: a code fence that never closes")
        bad += 1
print(f"fences: {len(sys.argv) - 1} files checked, {bad} broken")
sys.exit(1 if bad else 0)
PY

python3 - "$doc" <<'PY'
import re, sys
doc = open(sys.argv[1]).read()
bad = 0
for name, path, line in re.findall(r"\[`([^`]+)`[^\]]*\]\(\.\./([^)#]+)#L(\d+)\)", doc):
    fn = name.split("::")[-1]
    text = open(path).read().split("\n")[int(line) - 1]
    if not re.search(r"\b" + re.escape(fn) + r"\b", text):
        print(f"{path}#L{line} should show {fn}, but reads: {text.strip()}")
        bad += 1
print(f"walkthrough: {len(re.findall(r'#L[0-9]+', doc))} line links checked, {bad} stale")
sys.exit(1 if bad else 0)
PY

python3 - "$doc" > /tmp/walkthrough-commands.sh <<'PY'
import re, sys
for block in re.findall(r"```sh\n(.*?)```", open(sys.argv[1]).read(), re.S):
    for cmd in block.strip().split("\n"):
        print(f"echo '$ {cmd}'")
        print(cmd)
PY
bash -euo pipefail /tmp/walkthrough-commands.sh
echo "walkthrough: every command ran"
