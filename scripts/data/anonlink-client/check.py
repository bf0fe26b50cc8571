"""Helpers of scripts/check-anonlink-client.sh, run with the anonlink-client venv's Python.

    check.py get FILE KEY...                      print one value of a JSON file (keys or list indices)
    check.py status FILE                          the `anonlink status` output says "ok"
    check.py clks FILE CSV                        one CLK per CSV record, all the same length
    check.py describe SERVER PROJECT TOKEN TYPE N the project's description through the client's own
                                                  RestClient: type, parties, all N contributed
    check.py gone SERVER PROJECT TOKEN            describing the project is refused (403) after deletion
    check.py verify TYPE THRESHOLD OUT_DIR CSV... the run's results (OUT_DIR/result.json, and for
                                                  permutations OUT_DIR/permutation-I.json) against the
                                                  fixtures' ground truth and locally computed scores

Ground truth: a record's entity is the number in its rec_id (`rec-17-org`, `rec-17-dup-0`, ...).
Local scores: the Dice coefficient of the CLKs in OUT_DIR/clks-I.json. Every check prints what it
found and exits 1 on a mismatch.
"""

import base64
import csv
import itertools
import json
import sys


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def load_json(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError as err:
        fail(f"{path} is not JSON ({err}): {text[:500]!r}")


def entities(csv_path):
    with open(csv_path, encoding="utf-8", newline="") as f:
        return [int(row["rec_id"].split("-")[1]) for row in csv.DictReader(f)]


def clk_ints(path):
    return [int.from_bytes(base64.b64decode(c), "big") for c in load_json(path)["clks"]]


def dice(x, y):
    total = bin(x).count("1") + bin(y).count("1")
    return 2 * bin(x & y).count("1") / total if total else 0.0


def cmd_get(path, *keys):
    value = load_json(path)
    for key in keys:
        try:
            value = value[int(key)] if isinstance(value, list) else value[key]
        except (KeyError, IndexError, ValueError, TypeError):
            fail(f"{path} has no {'/'.join(keys)}: {json.dumps(load_json(path))[:500]}")
    print(value if isinstance(value, str) else json.dumps(value))


def cmd_status(path):
    status = load_json(path)
    if status.get("status") != "ok" or not isinstance(status.get("project_count"), int):
        fail(f"unexpected service status {status}")


def cmd_clks(path, csv_path):
    clks = load_json(path).get("clks")
    rows = len(entities(csv_path))
    if not isinstance(clks, list) or len(clks) != rows:
        fail(f"{path}: expected {rows} CLKs")
    if len({len(base64.b64decode(c)) for c in clks}) != 1:
        fail(f"{path}: CLKs of different lengths")


def cmd_describe(server, project, token, result_type, parties):
    from anonlinkclient.rest_client import RestClient

    description = RestClient(server).project_get_description(project, token)
    expected = {
        "project_id": project,
        "result_type": result_type,
        "number_parties": int(parties),
        "parties_contributed": int(parties),
    }
    wrong = {k: description.get(k) for k, v in expected.items() if description.get(k) != v}
    if wrong or not isinstance(description.get("schema"), dict):
        fail(f"project description {description} differs from {expected} in {wrong}")


def cmd_gone(server, project, token):
    from anonlinkclient.rest_client import RestClient, ServiceError

    try:
        description = RestClient(server).project_get_description(project, token)
    except ServiceError as err:
        if err.status_code != 403:
            fail(f"describing a deleted project answered {err.status_code}, not 403: {err.text}")
        return
    fail(f"the deleted project is still described: {description}")


def record(value, sizes, where):
    """A [party, row] pair naming an existing record."""
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not 0 <= value[0] < len(sizes)
        or not 0 <= value[1] < sizes[value[0]]
    ):
        fail(f"{where}: {value!r} is not a [party, row] pair of the {sizes} records")
    return tuple(value)


def true_groups(ents):
    """Every entity held by at least two parties, as the set of its (party, row) records."""
    by_entity = {}
    for party, rows in enumerate(ents):
        for row, entity in enumerate(rows):
            by_entity.setdefault(entity, set()).add((party, row))
    return {frozenset(g) for g in by_entity.values() if len(g) > 1}


def verify_groups(result, ents, sizes):
    groups = result.get("groups") if isinstance(result, dict) else None
    if not isinstance(groups, list) or not groups:
        fail(f"expected a non-empty 'groups' list, got {json.dumps(result)[:500]}")
    seen = set()
    found = set()
    for index, group in enumerate(groups):
        if not isinstance(group, list) or len(group) < 2:
            fail(f"group {index} {group!r} is not a list of at least two records")
        members = [record(r, sizes, f"group {index}") for r in group]
        if len({p for p, _ in members}) != len(members):
            fail(f"group {index} {group} holds two records of one party")
        if seen & set(members):
            fail(f"group {index} {group} repeats a record of an earlier group")
        seen |= set(members)
        found.add(frozenset(members))
    expected = true_groups(ents)
    if found != expected:
        fail(
            f"groups differ from the ground truth: {len(found - expected)} unexpected "
            f"{sorted(map(sorted, found - expected))[:5]}, {len(expected - found)} missing "
            f"{sorted(map(sorted, expected - found))[:5]}"
        )
    sizes_seen = sorted({len(g) for g in found})
    return f"{len(groups)} groups (sizes {sizes_seen}), all valid, equal to the ground truth"


def verify_scores(result, ents, sizes, clks, threshold):
    scores = result.get("similarity_scores") if isinstance(result, dict) else None
    if not isinstance(scores, list) or not scores:
        fail(f"expected a non-empty 'similarity_scores' list, got {json.dumps(result)[:500]}")
    found = {}
    for index, entry in enumerate(scores):
        if not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[2], (int, float)):
            fail(f"entry {index} {entry!r} is not [[party, row], [party, row], score]")
        a = record(entry[0], sizes, f"entry {index}")
        b = record(entry[1], sizes, f"entry {index}")
        if a[0] == b[0]:
            fail(f"entry {index} {entry} pairs two records of one party")
        score = float(entry[2])
        if score < threshold:
            fail(f"entry {index} {entry} scores below the threshold {threshold}")
        local = dice(clks[a[0]][a[1]], clks[b[0]][b[1]])
        if abs(score - local) > 1e-6:
            fail(f"entry {index} {entry}: the CLKs' Dice coefficient is {local}")
        key = frozenset((a, b))
        if key in found:
            fail(f"entry {index} {entry} repeats a pair")
        found[key] = score
    expected = {
        frozenset(((0, i), (1, j)))
        for i, j in itertools.product(range(sizes[0]), range(sizes[1]))
        if dice(clks[0][i], clks[1][j]) >= threshold
    }
    if set(found) != expected:
        fail(
            f"{len(set(found) - expected)} unexpected and {len(expected - set(found))} missing "
            f"pairs of the {len(expected)} with Dice >= {threshold}"
        )
    if set(found) != true_groups(ents):
        fail("the pairs above the threshold are not the fixtures' true matches")
    return (
        f"{len(scores)} scores in [{min(found.values()):.3f}, {max(found.values()):.3f}], "
        f"each >= {threshold} and equal to the CLKs' Dice; the pairs are the ground truth"
    )


def verify_permutations(result, perms, ents, sizes):
    mask = result.get("mask") if isinstance(result, dict) else None
    smaller = min(sizes)
    if not isinstance(mask, list) or len(mask) != smaller or any(m not in (0, 1) for m in mask):
        fail(f"expected a 'mask' of {smaller} zeros and ones, got {json.dumps(result)[:500]}")
    inverses = []
    for party, perm_result in enumerate(perms):
        perm = perm_result.get("permutation") if isinstance(perm_result, dict) else None
        if not isinstance(perm, list) or sorted(perm) != list(range(sizes[party])):
            fail(f"party {party}: expected a permutation of range({sizes[party]}), got {perm_result}")
        rows = perm_result.get("rows")
        if rows != smaller:
            fail(f"party {party}: 'rows' is {rows!r}, expected the smaller dataset's size {smaller}")
        inverses.append({new: old for old, new in enumerate(perm)})
    linked = {
        frozenset(((0, inverses[0][k]), (1, inverses[1][k]))) for k, m in enumerate(mask) if m == 1
    }
    if linked != true_groups(ents):
        fail(f"the {len(linked)} rows the mask keeps do not line up the true matches")
    return (
        f"mask of {len(mask)} ({sum(mask)} kept), permutations of {sizes}, "
        f"the kept rows line up exactly the true matches"
    )


def cmd_verify(result_type, threshold, out_dir, *csvs):
    ents = [entities(path) for path in csvs]
    sizes = [len(rows) for rows in ents]
    clks = [clk_ints(f"{out_dir}/clks-{party}.json") for party in range(len(csvs))]
    result = load_json(f"{out_dir}/result.json")
    if result_type == "groups":
        summary = verify_groups(result, ents, sizes)
    elif result_type == "similarity_scores":
        summary = verify_scores(result, ents, sizes, clks, float(threshold))
    elif result_type == "permutations":
        perms = [load_json(f"{out_dir}/permutation-{party}.json") for party in range(len(csvs))]
        summary = verify_permutations(result, perms, ents, sizes)
    else:
        fail(f"unknown result type {result_type}")
    print(summary)


COMMANDS = {
    "get": cmd_get,
    "status": cmd_status,
    "clks": cmd_clks,
    "describe": cmd_describe,
    "gone": cmd_gone,
    "verify": cmd_verify,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        fail(f"usage: {sys.argv[0]} {'|'.join(COMMANDS)} ...")
    COMMANDS[sys.argv[1]](*sys.argv[2:])
