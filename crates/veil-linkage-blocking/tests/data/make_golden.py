"""Regenerate the golden fixtures for veil-linkage-blocking.

Usage: python3 -m venv venv && venv/bin/pip install blocklib bitarray
       venv/bin/python make_golden.py
Writes small synthetic records/CLKs (seeded, no real data), blocking schemas,
and blocklib's per-record block ids for each schema.
"""
import base64
import csv
import json
import random

from blocklib import generate_candidate_blocks

rng = random.Random(20240601)
GIVEN = ["john", "jon", "mary", "maria", "peter", "pete", "sarah", "sara", "li", ""]
SUR = ["smith", "smyth", "jones", "brown", "nguyen", "o'neil", "white", "lee"]
header = ["rec_id", "given_name", "surname", "postcode", "dob"]
rows = []
for i in range(80):
    rows.append([
        f"r{i}",
        rng.choice(GIVEN),
        rng.choice(SUR),
        str(rng.choice([2000, 2001, 2600, 3000, 4000])),
        f"19{rng.randint(40, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
    ])
with open("records.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(header)
    w.writerows(rows)

clks = [base64.b64encode(bytes(rng.getrandbits(8) for _ in range(16))).decode() for _ in range(80)]
with open("clks.json", "w") as f:
    json.dump({"clks": clks}, f)

schemas = {
    "psig_ratio": {
        "version": 1, "type": "p-sig",
        "config": {
            "blocking-features": ["given_name", "surname", "postcode", "dob"],
            "filter": {"type": "ratio", "max": 0.3, "min": 0.02},
            "blocking-filter": {"type": "bloom filter", "number-hash-functions": 4, "bf-len": 2048},
            "signatureSpecs": [
                [{"type": "characters-at", "config": {"pos": [0, "2:4"]}, "feature": "given_name"},
                 {"type": "feature-value", "feature": "postcode"}],
                [{"type": "characters-at", "config": {"pos": [":3"]}, "feature": "surname"}],
                [{"type": "feature-value", "feature": "surname"}, {"type": "characters-at", "config": {"pos": ["-2", "4:"]}, "feature": "dob"}],
            ],
        },
    },
    "psig_count": {
        "version": 1, "type": "p-sig",
        "config": {
            "blocking-features": [1, 2],
            "filter": {"type": "count", "max": 20, "min": 2},
            "blocking-filter": {"type": "bloom filter", "number-hash-functions": 9, "bf-len": 64},
            "signatureSpecs": [
                [{"type": "feature-value", "feature": 1}],
                [{"type": "characters-at", "config": {"pos": [0, 1]}, "feature": 2}, {"type": "characters-at", "config": {"pos": [0]}, "feature": 1}],
            ],
        },
    },
    "lambda_clks": {
        "version": 1, "type": "lambda-fold",
        "config": {"blocking-features": [0], "Lambda": 6, "bf-len": 128, "num-hash-funcs": 2,
                   "K": 7, "input-clks": True, "random_state": 12345},
    },
    "lambda_records": {
        "version": 1, "type": "lambda-fold",
        "config": {"blocking-features": [1, 2], "Lambda": 5, "bf-len": 256, "num-hash-funcs": 3,
                   "K": 40, "input-clks": False, "random_state": 7},
    },
}

for name, schema in schemas.items():
    with open(f"{name}_schema.json", "w") as f:
        json.dump(schema, f, indent=1)
    if name == "lambda_clks":
        res = generate_candidate_blocks(clks, schema)
    else:
        res = generate_candidate_blocks([tuple(r) for r in rows], schema, header=header)
    per_record = [[] for _ in range(80)]
    for key, recs in res.blocks.items():
        for r in recs:
            if key not in per_record[r]:
                per_record[r].append(key)
    with open(f"{name}_expected.json", "w") as f:
        json.dump({"blocks": [sorted(b) for b in per_record]}, f)
