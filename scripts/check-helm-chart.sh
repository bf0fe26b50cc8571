#!/usr/bin/env bash
# Check the Helm chart deploy/helm/veil without a helm binary or a cluster.
#
# For the default values and each file in deploy/helm/veil/ci/ (trial, production, dispatcher-only):
#   1. `helm lint --strict` (Kubernetes 1.30) with the Helm 4 engine that the PyPI package helm-python-sdk
#      ships as a shared library: no error and no warning;
#   2. render the chart (`helm template`; values.schema.json is enforced) and validate every manifest,
#      hooks and tests included, against the Kubernetes 1.30 schemas in strict mode (kubernetes-validate):
#      unknown fields, wrong types and unknown kinds fail;
#   3. parse the rendered veil.toml and check that it uses only keys veil-config knows
#      (crates/veil-config/src/file.rs) plus the ones listed in PENDING_KEYS below.
# And once: every value in values.yaml has a comment above it, and every key of values.schema.json has a
# default there. Prints one summary line per check; exits non-zero on any failure.
#
# Usage: scripts/check-helm-chart.sh
#
# Environment (all optional):
#   VEIL_VENV_HELM   the Python venv to create or reuse   (default: $HOME/.cache/veil-ci/venv-helm)
#   PYTHON           interpreter for the venv (>= 3.11)   (default: python3)
#
# Needs only Python 3.11+, pip and access to PyPI. A venv that already holds the pinned versions is
# reused without calling pip, so a re-run takes about a second.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
venv="${VEIL_VENV_HELM:-$HOME/.cache/veil-ci/venv-helm}"
python="${PYTHON:-python3}"

# Every package in the venv, pinned: the two tools and their dependencies, as verified together.
pins=(
  helm-python-sdk==0.2.2
  kubernetes-validate==1.37.0
  attrs==26.1.0
  importlib_resources==7.1.0
  jsonschema==4.26.0
  jsonschema-specifications==2025.9.1
  packaging==26.3
  PyYAML==6.0.3
  referencing==0.37.0
  rpds-py==2026.9.1
  typing_extensions==4.16.0
)
stamp="$venv/.veil-helm-pins"
wanted=$(printf '%s\n' "${pins[@]}")

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "$python is older than Python 3.11 (set PYTHON)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "creating venv $venv" >&2
  "$python" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ] \
  || ! "$venv/bin/python" -c 'import helm_python, kubernetes_validate' 2>/dev/null; then
  echo "installing ${pins[*]} into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
  printf '%s\n' "$wanted" >"$stamp"
fi

exec "$venv/bin/python" - "$repo" <<'PY'
"""Lint, render and validate the chart under every values file; see the header of the shell script."""

import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import yaml

KUBE_VERSION = "1.30.0"
# Keys whose Rust type the struct reader above does not follow (maps of structs, written with generics
# it does not parse); `.*`: a map, any key below it is known.
PENDING_KEYS = {
    "runner",
    "queue.url",
    "kubernetes.namespace",
    "kubernetes.image",
    "kubernetes.service_account",
    "kubernetes.backoff_limit",
    "kubernetes.ttl_seconds_after_finished",
    "kubernetes.cpu_request",
    "kubernetes.memory_request",
    "kubernetes.cpu_limit",
    "kubernetes.memory_limit",
    "kubernetes.log_tail_lines",
    "kubernetes.command",
    "kubernetes.env_from_secret",
    "kubernetes.env.*",
    "dispatcher.sources.*",
}

repo = Path(sys.argv[1])
chart = repo / "deploy/helm/veil"
# (label, values file or None for the defaults, release name)
cases = [("default", None, "veil")] + [
    (path.stem.removesuffix("-values"), path, "veil-dispatcher" if "dispatcher" in path.stem else "veil")
    for path in sorted((chart / "ci").glob("*-values.yaml"))
]


def config_keys_from_rust(file_rs: Path) -> set[str]:
    """Dotted keys of veil.toml, read from the serde structs in veil-config's file.rs. A map-typed key
    (e.g. `kubernetes.env`) comes out as `kubernetes.env.*`: any key below it is known."""
    structs = {
        name: re.findall(r"^\s*pub(?:\(crate\))? (\w+): ([\w<>]+),", body, re.M)
        for name, body in re.findall(r"struct (\w+) \{(.*?)\n\}", file_rs.read_text(), re.S)
    }
    if "ConfigFile" not in structs:
        sys.exit(f"cannot find `struct ConfigFile` in {file_rs}: update config_keys_from_rust")

    def walk(struct: str, prefix: str) -> set[str]:
        keys = set()
        for field, kind in structs[struct]:
            kind = re.sub(r"^Option<(\w+)>$", r"\1", kind)
            if kind in structs:
                keys |= walk(kind, f"{prefix}{field}.")
            elif "Map<" in kind:
                keys.add(f"{prefix}{field}.*")
            else:
                keys.add(prefix + field)
        return keys

    return walk("ConfigFile", "")


def veil_accepts(name: str, text: str) -> list[str]:
    """With VEIL_BIN set, `veil config check` must accept the rendered file as it stands."""
    veil = os.environ.get("VEIL_BIN")
    if not veil:
        return []
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as file:
        file.write(text)
        file.flush()
        env = {"PATH": os.environ.get("PATH", "")}
        run = subprocess.run([veil, "config", "check", "--config", file.name], env=env, capture_output=True, text=True)
    if run.returncode != 0:
        return [f"{name}: `veil config check` refuses the rendered veil.toml: {run.stderr.strip()}"]
    return []


def toml_keys(table: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in table.items():
        if isinstance(value, dict):
            keys |= toml_keys(value, f"{prefix}{key}.")
        else:
            keys.add(prefix + key)
    return keys


def undocumented_values(values_yaml: Path, schema: dict) -> list[str]:
    """values.yaml against values.schema.json: every value has a comment right above it, and every key the
    schema names has a default. Closed objects of the schema (additionalProperties false) are sections,
    whose keys are documented one by one; anything else is a value, documented as a whole."""
    text = values_yaml.read_text()
    lines = text.splitlines()
    problems = []

    def walk(node: yaml.MappingNode, schema_node: dict, path: list[str]) -> None:
        present = set()
        for key_node, value_node in node.value:
            key = key_node.value
            present.add(key)
            sub = (schema_node.get("properties") or {}).get(key, {})
            if sub.get("type") == "object" and sub.get("additionalProperties") is False:
                if isinstance(value_node, yaml.MappingNode):
                    walk(value_node, sub, path + [key])
                continue
            line = key_node.start_mark.line
            if line == 0 or not lines[line - 1].lstrip().startswith("#"):
                problems.append(f"values.yaml: `{'.'.join(path + [key])}` has no comment above it")
        for key in sorted(set(schema_node.get("properties") or {}) - present - {"global"}):
            problems.append(f"values.yaml: `{'.'.join(path + [key])}` is in the schema but has no default")

    walk(yaml.compose(text), schema, [])
    return problems


def check(label: str, values_file: Path | None, release: str, known_keys: set[str]) -> list[str]:
    """Returns the failures; prints the summary line."""
    failures = []
    values = helm.values_from_yaml(values_file.read_text()) if values_file else {}

    report = helm.lint(chart, values, strict=True, namespace=release, kube_version=f"v{KUBE_VERSION}")
    failures += [f"lint: {error}" for error in report.get("errors") or []]
    for message in report.get("messages") or []:
        if message["severity"] >= 2:  # 2 = warning, 3 = error; --strict fails on both
            failures.append(f"lint: {message['path']}: {message['error']}")

    try:
        with helm.Chart.load(chart) as loaded:
            rendered = loaded.render(values, name=release, namespace=release, is_install=True)
    except helm.HelmError as error:
        print(f"FAIL {label:<16} does not render")
        return failures + [f"render: {error}"]

    kinds = collections.Counter()
    seen = set()
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt") or not text.strip():
            continue
        try:
            documents = [doc for doc in yaml.safe_load_all(text) if doc]
        except yaml.YAMLError as error:
            failures.append(f"{template}: not YAML: {error}")
            continue
        for doc in documents:
            name = f"{template}: {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
            identity = (doc.get("apiVersion"), doc.get("kind"), (doc.get("metadata") or {}).get("namespace"),
                        (doc.get("metadata") or {}).get("name"))
            if identity in seen:
                failures.append(f"{name}: rendered twice")
            seen.add(identity)
            try:
                kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(part) for part in error.path)
                failures.append(f"{name}: {path}: {error.message}")
                continue
            except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as error:
                failures.append(f"{name}: {error.message}")
                continue
            kinds[doc["kind"]] += 1
            if doc["kind"] == "ConfigMap" and "veil.toml" in (doc.get("data") or {}):
                try:
                    unknown = {
                        key
                        for key in toml_keys(tomllib.loads(doc["data"]["veil.toml"]))
                        if key not in known_keys
                        and not any(
                            ".".join(key.split(".")[:n]) + ".*" in known_keys
                            for n in range(1, key.count(".") + 1)
                        )
                    }
                except tomllib.TOMLDecodeError as error:
                    failures.append(f"{name}: veil.toml is not TOML: {error}")
                    continue
                failures += [f"{name}: veil.toml key `{key}` is unknown to veil-config" for key in sorted(unknown)]
                failures += veil_accepts(name, doc["data"]["veil.toml"])

    manifests = sum(kinds.values())
    detail = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    status = "ok  " if not failures else "FAIL"
    print(f"{status} {label:<16} {manifests:>2} manifests ({detail})")
    return failures


started = time.monotonic()
known_keys = config_keys_from_rust(repo / "crates/veil-config/src/file.rs") | PENDING_KEYS
print(f"Helm {helm.helm_sdk_version()} (helm-python-sdk {helm.__version__}), Kubernetes {KUBE_VERSION} schemas, strict")
failed = 0
problems = undocumented_values(chart / "values.yaml", json.loads((chart / "values.schema.json").read_text()))
print(f"{'ok  ' if not problems else 'FAIL'} values.yaml      every value documented, every schema key defaulted")
for problem in problems:
    print(f"     {problem}")
failed += bool(problems)
for label, values_file, release in cases:
    failures = check(label, values_file, release, known_keys)
    for failure in failures:
        print(f"     {failure}")
    failed += bool(failures)
print(f"helm chart: {len(cases) + 1 - failed} of {len(cases) + 1} checks pass ({time.monotonic() - started:.1f}s)")
sys.exit(1 if failed else 0)
PY
