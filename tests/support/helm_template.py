"""Stands in for `helm template` in gitdrift's tests.

No `helm` binary can be installed from the registries these machines reach, so this drives
Helm's own rendering engine (PyPI's helm-python-sdk: Helm v4's Go SDK behind a C ABI) with the
flags gitdrift passes, and prints what `helm template` prints: each rendered document headed by
`# Source: <chart>/<template>`. Errors go to standard error with exit code 1, as helm does.
"""

import argparse
import json
import sys

import helm_python as helm
from helm_python import _native


def merge(base, override):
    """Coalesces values the way Helm does: maps merge, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def documents(text):
    """Splits a rendered template into its non-empty YAML documents."""
    docs, current = [], []
    for line in text.splitlines():
        if line.strip() == "---":
            docs.append("\n".join(current))
            current = []
        else:
            current.append(line)
    docs.append("\n".join(current))
    meaningful = []
    for doc in docs:
        body = [l for l in doc.splitlines() if l.strip() and not l.lstrip().startswith("#")]
        if body:
            meaningful.append(doc.strip("\n"))
    return meaningful


def main(argv):
    if not argv or argv[0] != "template":
        print("Error: only `helm template` is supported by this stand-in", file=sys.stderr)
        return 1
    parser = argparse.ArgumentParser(prog="helm template")
    parser.add_argument("release")
    parser.add_argument("chart")
    parser.add_argument("--namespace", "-n", default="default")
    parser.add_argument("--values", "-f", action="append", default=[])
    parser.add_argument("--kube-version")
    parser.add_argument("--include-crds", action="store_true")
    parser.add_argument("--skip-tests", action="store_true")
    args = parser.parse_args(argv[1:])
    try:
        values = {}
        for path in args.values:
            with open(path, encoding="utf-8") as f:
                values = merge(values, helm.values_from_yaml(f.read()) or {})
        chart = helm.Chart.load(args.chart)
        opts = {"name": args.release, "namespace": args.namespace}
        if args.kube_version:
            opts["kube_version"] = args.kube_version
        rendered = json.loads(
            _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(opts))
        )
    except helm.HelmError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    out = []
    if args.include_crds:
        for crd in chart.crds:
            name = crd.get("name") or crd.get("path") or "crd.yaml"
            for doc in documents(crd.get("data", "")):
                out.append(f"---\n# Source: {chart.name}/{name}\n{doc}\n")
    for path in sorted(rendered):
        if path.endswith("NOTES.txt") or path.rsplit("/", 1)[-1].startswith("_"):
            continue
        for doc in documents(rendered[path]):
            out.append(f"---\n# Source: {path}\n{doc}\n")
    sys.stdout.write("".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
