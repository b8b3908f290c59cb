"""Runs notebooks/collab.ipynb headless (nbclient, ipykernel) and checks its figures.

    python scripts/run_notebook.py [NOTEBOOK] [--save OUT.ipynb]

Every cell runs in order. The last cell prints a FIGURES line: each recipe's measured
validation MSE beside the seed notebook's. Each must be within ±0.01 of it, the tolerance
tests/recipes.rs holds the recipes to. The notebook asserts that itself, and this script
checks it again from the printed line. It then prints the figures side by side and exits
non-zero if a cell failed or a figure is off. With --save it writes the executed notebook,
outputs included, to OUT.ipynb.
"""

import json
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

TOLERANCE = 0.01


def main(argv):
    args = list(argv)
    out = None
    if "--save" in args:
        i = args.index("--save")
        out = pathlib.Path(args[i + 1])
        del args[i : i + 2]
    path = pathlib.Path(args[0] if args else "notebooks/collab.ipynb")
    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as e:
        print(f"{path}: a cell failed:\n{e}", file=sys.stderr)
        return 1
    finally:
        if out is not None:
            nbformat.write(nb, out)
    figures = None
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            for line in o.get("text", "").splitlines():
                if line.startswith("FIGURES "):
                    figures = json.loads(line[len("FIGURES "):])
    if figures is None:
        print(f"{path}: no FIGURES line in its outputs", file=sys.stderr)
        return 1
    bad = 0
    print(f"{path}: ran in {time.time() - t0:.0f} s")
    print(f"{'recipe':<8} {'mfcuda':>8} {'notebook':>9} {'diff':>8}")
    for name, (got, want) in figures.items():
        ok = abs(got - want) <= TOLERANCE
        bad += not ok
        print(f"{name:<8} {got:>8.4f} {want:>9.4f} {got - want:>+8.4f}{'' if ok else '  OFF (more than ±0.01)'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
