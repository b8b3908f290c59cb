#!/usr/bin/env bash
# Keeps docs/walkthrough.md honest: runs every command in its ```sh blocks, checks that
# every link to a line (`file#Lnn`) lands on the function or kernel it names, that every
# code fence in the docs stands on a line of its own and is closed, and that no doc points
# outside the repository.
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

# The repository stands alone: every relative link in the docs lands on a file in it, and no
# file cites a document or a person a reader of the repository cannot reach.
git ls-files -z | python3 -c '
import os, re, sys
root = os.path.realpath(".")
files = [f for f in sys.stdin.read().split("\0") if f]
bad = 0
outside = re.compile(r"\.\./shared|\bGPU\.md|\bDESIGN\.md|reviewer.s\b|the issue.s (reference|figure|floor)")
for path in files:
    if path.startswith("docs/gpu-results/") or path == "scripts/check-walkthrough.sh":
        continue  # the copied run log quotes its own paths; this script names the patterns
    try:
        text = open(path, encoding="utf-8").read()
    except (UnicodeDecodeError, IsADirectoryError):
        continue
    for n, line in enumerate(text.split("\n"), 1):
        if outside.search(line):
            print(f"{path}:{n}: cites something outside the repository: {line.strip()}")
            bad += 1
        if not path.endswith(".md"):
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", line):
            if re.match(r"[a-z]+:|#", target):
                continue
            dest = os.path.realpath(os.path.join(os.path.dirname(path), target.split("#")[0]))
            if not dest.startswith(root + os.sep) or not os.path.exists(dest):
                print(f"{path}:{n}: link to {target}, which is not a file in the repository")
                bad += 1
print(f"references: {len(files)} files checked, {bad} outside the repository")
sys.exit(1 if bad else 0)
'

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
