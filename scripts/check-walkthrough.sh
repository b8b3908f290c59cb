#!/usr/bin/env bash
# Keeps docs/walkthrough.md honest: runs every command in its ```sh blocks, and checks that
# every link to a line (`file#Lnn`) lands on the function or kernel it names.
set -euo pipefail
cd "$(dirname "$0")/.."
doc=docs/walkthrough.md

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
