"""Regenerates the messy differential fixtures with the real clkhash 0.18.3.

Usage: /path/to/venv-with-clkhash-0.18.3/bin/python generate.py   (run in this directory)
Writes messy.csv, schema_{a,b,c}.json and clkhash-0.18.3.messy.schema_{a,b,c}.json.
"""
import base64, copy, csv, io, json, random

from clkhash import clk, schema as clk_schema
from clkhash.serialization import serialize_bitarray

SECRET = "pässwörd 🔑"
random.seed(20240611)

NAMES = ["José", "Zoë", "Ñandú", "李小龍", "😀smile", "  spaced  ", "a", "", "N/A", "x" * 150,
         "e\u0301clair", "straße", "O'Brien", "van der Berg", "ﬁne", "İstanbul", "ǅemal", "Ωmega", "tab\there"]
U16 = ["𝄞music", "abc", "日本語", "", "🙂🙃", "ab\u00e9"]
CODES = ["AB123", "ZZ", "QX0000001", "", "MN42"]
AGES = ["0", "+07", " 42 ", "١٢", "150", "", "1_0", "0099", "-0"]
WEIGHTS = ["70.5", "-2.5e1", "1e2", " 3.14159 ", "0", "65", "1_000.25", "0.125", "-0.005", "", "12"]
DOBS = ["01/02/1990", "1/2/1990", "29/02/2000", "31/12/1999", "7/7/1907", "15/10/2023"]
SEXES = ["m", "f", "x", ""]

header = ["id", "name", "name_pos", "u16", "u32", "code", "age", "weight", "dob", "sex"]
rows = []
for i in range(400):
    rows.append([f"r{i}", random.choice(NAMES), random.choice(NAMES), random.choice(U16), random.choice(NAMES),
                 random.choice(CODES), random.choice(AGES), random.choice(WEIGHTS), random.choice(DOBS),
                 random.choice(SEXES)])

FORMATS = {
    "name": {"type": "string", "encoding": "utf-8"},
    "name_pos": {"type": "string", "encoding": "utf-8", "case": "mixed", "maxLength": 200},
    "u16": {"type": "string", "encoding": "utf-16"},
    "u32": {"type": "string", "encoding": "utf-32"},
    "code": {"type": "string", "encoding": "ascii", "pattern": "[A-Z]{2}[0-9]*"},
    "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "weight": {"type": "string"},
    "dob": {"type": "date", "format": "%d/%m/%Y"},
    "sex": {"type": "enum", "values": ["m", "f", "x"]},
}

def feature(ident, comparison, strategy, hash_=None, missing=None):
    h = {"comparison": comparison, "strategy": strategy}
    if hash_ is not None:
        h["hash"] = hash_
    if missing is not None:
        h["missingValue"] = missing
    return {"identifier": ident, "format": FORMATS[ident], "hashing": h}

BLAKE = {"type": "blakeHash"}
def dh(ps=None):
    d = {"type": "doubleHash"}
    if ps is not None:
        d["prevent_singularity"] = ps
    return d

def ngram(n, positional=False):
    return {"type": "ngram", "n": n, "positional": positional}

def make(l, clk_extra, hashes):
    h = hashes
    feats = [
        {"identifier": "id", "ignored": True},
        feature("name", ngram(2), {"bitsPerToken": 15}, h[0], {"sentinel": "N/A", "replaceWith": ""}),
        feature("name_pos", ngram(3, True), {"bitsPerFeature": 200}, h[1], {"sentinel": ""}),
        feature("u16", ngram(1), {"bitsPerToken": 3}, h[2]),
        feature("u32", {"type": "exact"}, {"bitsPerToken": 40}, h[3]),
        feature("code", {"type": "exact"}, {"bitsPerToken": 30}, h[4], {"sentinel": ""}),
        feature("age", {"type": "numeric", "thresholdDistance": 5, "resolution": 3}, {"bitsPerToken": 5}, h[5], {"sentinel": ""}),
        feature("weight", {"type": "numeric", "thresholdDistance": 0.5, "resolution": 2, "fractional_precision": 2},
                {"bitsPerFeature": 30}, h[6], {"sentinel": ""}),
        feature("dob", ngram(2), {"bitsPerFeature": 60}, h[7]),
        feature("sex", {"type": "exact"}, {"bitsPerToken": 20}, h[8], {"sentinel": "", "replaceWith": "u"}),
    ]
    cfg = {"l": l, "kdf": {"type": "HKDF", "hash": "SHA512", "salt": base64.b64encode(b"messy salt").decode(),
                           "info": base64.b64encode(b"messy info").decode(), "keySize": 32}}
    cfg.update(clk_extra)
    return {"version": 3, "clkConfig": cfg, "features": feats}

schemas = {
    # xorFolds is declared but clkhash 0.18.3 ignores it; default hash (blake) where hash is None.
    "schema_a": make(1024, {"xorFolds": 2}, [None, BLAKE, dh(), BLAKE, dh(True), BLAKE, dh(False), None, BLAKE]),
    # xor_folds (snake case) is applied by clkhash; doubleHash only with a non power-of-two l.
    "schema_b": make(1000, {"xor_folds": 1}, [dh(), dh(True), dh(), dh(True), dh(), dh(True), dh(), dh(True), dh()]),
    # tiny filter: singular MD5 values are frequent.
    "schema_c": make(16, {}, [dh(True)] * 9),
}

buf = io.StringIO()
w = csv.writer(buf, lineterminator="\n")
w.writerow(header)
w.writerows(rows)
with open("messy.csv", "w", encoding="utf-8", newline="") as f:
    f.write(buf.getvalue())

for name, sdict in schemas.items():
    with open(f"{name}.json", "w", encoding="utf-8") as f:
        json.dump(sdict, f, indent=2, ensure_ascii=False)
    sch = clk_schema.from_json_dict(copy.deepcopy(sdict))
    with open("messy.csv", encoding="utf-8", newline="") as f:
        clks = clk.generate_clk_from_csv(f, SECRET, sch, progress_bar=False, max_workers=1)
    with open(f"clkhash-0.18.3.messy.{name}.json", "w") as f:
        json.dump({"clks": [serialize_bitarray(c) for c in clks]}, f)
print("ok")
