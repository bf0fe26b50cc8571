"""Scorer and SDV runner for scripts/bench-synth.sh (Veil vs SDV on UCI Adult).

Two subcommands:

  sdv TRAIN.csv METADATA.json OUT_DIR [--seed S]
      Fits SDV's GaussianCopulaSynthesizer on TRAIN, samples as many rows,
      writes OUT_DIR/sdv-gaussian-copula.csv and prints one JSON line with the
      timings (read_seconds, fit_seconds, sample_seconds). If SDV cannot be
      imported it falls back to the `copulas` GaussianMultivariate on ordinal
      codes and says so in the JSON ("implementation").

  score TRAIN.csv TEST.csv METADATA.json RUNS.jsonl [--seed S]
      Scores every synthetic table listed in RUNS.jsonl (one JSON line per
      run, with "name" and "output") against the real tables and prints a
      markdown report: sdmetrics QualityReport, train-synthetic-test-real AUC
      with HistGradientBoostingClassifier, exact-copy rate and the share of
      synthetic rows closer to train than to the holdout.

Missing values: Adult writes them as the category "?"; Veil writes missing
values as empty fields. Both are read as the category "?" in categorical
columns so every table is scored on the same footing.
"""

import argparse
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

TARGET = "income"
POSITIVE = ">50K"
MISSING = "?"
DCR_SYNTHETIC_ROWS = 2000


def load_metadata(path):
    with open(path) as handle:
        metadata = json.load(handle)
    if "columns" not in metadata:
        sys.exit(f"{path}: no 'columns' key; expected SDV single-table metadata")
    return metadata


def categorical_columns(metadata):
    return [name for name, spec in metadata["columns"].items() if spec["sdtype"] != "numerical"]


def read_table(path, metadata):
    """Reads a CSV with categorical columns as strings (missing -> "?")."""
    categorical = categorical_columns(metadata)
    frame = pd.read_csv(path, dtype={name: str for name in categorical}, keep_default_na=False,
                        na_values={name: [""] for name in metadata["columns"]})
    missing_columns = [name for name in metadata["columns"] if name not in frame.columns]
    if missing_columns:
        sys.exit(f"{path}: missing columns {missing_columns}")
    frame = frame[list(metadata["columns"])]
    for name in categorical:
        frame[name] = frame[name].fillna(MISSING).astype(str)
    for name in metadata["columns"]:
        if name not in categorical:
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame


# ---------------------------------------------------------------- SDV run


def run_sdv(arguments):
    start = time.perf_counter()
    metadata_dict = load_metadata(arguments.metadata)
    train = read_table(arguments.train, metadata_dict)
    read_seconds = time.perf_counter() - start
    try:
        import sdv
        from sdv.single_table import GaussianCopulaSynthesizer

        from sdv.metadata import Metadata

        metadata = Metadata.load_from_dict(metadata_dict, single_table_name="adult")
        # SDV 2 takes and returns {table name: DataFrame}; SDV 1 a DataFrame.
        wrapped = int(sdv.__version__.split(".")[0]) >= 2
        implementation = f"sdv {sdv.__version__} GaussianCopulaSynthesizer (defaults)"
        np.random.seed(arguments.seed)
        start = time.perf_counter()
        synthesizer = GaussianCopulaSynthesizer(metadata)
        synthesizer.fit({"adult": train} if wrapped else train)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        synthetic = synthesizer.sample(num_rows=len(train))
        if wrapped:
            synthetic = synthetic["adult"]
        sample_seconds = time.perf_counter() - start
    except ImportError as error:
        implementation, fit_seconds, sample_seconds, synthetic = run_copulas_fallback(
            train, metadata_dict, arguments.seed, error)
    output = f"{arguments.out_dir}/sdv-gaussian-copula.csv"
    synthetic.to_csv(output, index=False)
    print(json.dumps({
        "model": "sdv-gaussian-copula",
        "name": "sdv-gaussian-copula",
        "implementation": implementation,
        "read_seconds": read_seconds,
        "fit_seconds": fit_seconds,
        "sample_seconds": sample_seconds,
        "rows": len(synthetic),
        "output": output,
    }))


def run_copulas_fallback(train, metadata_dict, seed, error):
    """SDV's own copula engine on ordinal codes, used only when SDV is missing."""
    import copulas
    from copulas.multivariate import GaussianMultivariate

    print(f"WARNING: SDV could not be imported ({error}); timing copulas "
          f"{copulas.__version__} GaussianMultivariate instead", file=sys.stderr)
    categorical = categorical_columns(metadata_dict)
    np.random.seed(seed)
    start = time.perf_counter()
    codes = {}
    encoded = train.copy()
    for name in categorical:
        encoded[name], codes[name] = pd.factorize(train[name])
    model = GaussianMultivariate()
    model.fit(encoded.astype(float))
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = model.sample(len(train))
    for name in train.columns:
        low, high = encoded[name].min(), encoded[name].max()
        synthetic[name] = synthetic[name].round().clip(low, high).astype(int)
        if name in codes:
            synthetic[name] = codes[name][synthetic[name].to_numpy()]
    sample_seconds = time.perf_counter() - start
    implementation = (f"FALLBACK: copulas {copulas.__version__} GaussianMultivariate on ordinal "
                      "codes (SDV not importable)")
    return implementation, fit_seconds, sample_seconds, synthetic


# ---------------------------------------------------------------- scoring


def quality_score(real, synthetic, metadata):
    from sdmetrics.reports.single_table import QualityReport

    report = QualityReport()
    report.generate(real, synthetic, metadata, verbose=False)
    properties = report.get_properties().set_index("Property")["Score"]
    return report.get_score(), properties.get("Column Shapes"), properties.get("Column Pair Trends")


class Encoder:
    """Ordinal codes for HistGradientBoosting, fixed on the real tables so that
    every synthetic table is encoded the same way (unseen labels -> NaN)."""

    def __init__(self, real_tables, metadata):
        self.categorical = [c for c in categorical_columns(metadata) if c != TARGET]
        self.features = [c for c in metadata["columns"] if c != TARGET]
        self.codes = {}
        for name in self.categorical:
            labels = sorted(set().union(*(set(t[name]) for t in real_tables)))
            self.codes[name] = {label: code for code, label in enumerate(labels)}

    def features_of(self, frame):
        encoded = pd.DataFrame(index=frame.index)
        for name in self.features:
            if name in self.codes:
                encoded[name] = frame[name].map(self.codes[name]).astype(float)
            else:
                encoded[name] = frame[name].astype(float)
        return encoded.to_numpy()

    def categorical_mask(self):
        return [name in self.codes for name in self.features]


def tstr_auc(train, test, encoder, seed):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    labels = (train[TARGET] == POSITIVE).to_numpy()
    if labels.all() or not labels.any():
        return float("nan")
    classifier = HistGradientBoostingClassifier(categorical_features=encoder.categorical_mask(),
                                                random_state=seed)
    classifier.fit(encoder.features_of(train), labels)
    scores = classifier.predict_proba(encoder.features_of(test))[:, 1]
    return roc_auc_score((test[TARGET] == POSITIVE).to_numpy(), scores)


def row_keys(frame, numeric):
    """Rows as hashable tuples; numbers compared as floats, NaN as a token."""
    columns = []
    for name in frame.columns:
        if name in numeric:
            values = frame[name].astype(float)
            columns.append(values.map(lambda v: "NaN" if np.isnan(v) else float(v)).tolist())
        else:
            columns.append(frame[name].tolist())
    return list(zip(*columns))


def exact_copy_rate(train, synthetic, numeric):
    training_rows = set(row_keys(train, numeric))
    keys = row_keys(synthetic, numeric)
    return sum(key in training_rows for key in keys) / len(keys)


class DistanceSpace:
    """Distance used for closest records: the sum over columns of
    |a - b| / (training range) clipped to 1 for numeric columns, 0/1 for
    categorical ones (the "?" category included); a missing number is at
    distance 0 from another missing number and 1 from any present one."""

    def __init__(self, train, metadata):
        categorical = set(categorical_columns(metadata))
        self.numeric = [c for c in metadata["columns"] if c not in categorical]
        self.categorical = [c for c in metadata["columns"] if c in categorical]
        self.low = train[self.numeric].min().to_numpy(float)
        span = (train[self.numeric].max() - train[self.numeric].min()).to_numpy(float)
        self.span = np.where(span > 0, span, 1.0)
        self.codes = {name: {} for name in self.categorical}

    def encode(self, frame):
        numbers = (frame[self.numeric].to_numpy(float) - self.low) / self.span
        labels = np.empty((len(frame), len(self.categorical)), dtype=np.int64)
        for index, name in enumerate(self.categorical):
            codes = self.codes[name]
            labels[:, index] = [codes.setdefault(v, len(codes)) for v in frame[name]]
        return numbers, labels

    @staticmethod
    def closest(rows, reference, chunk=64):
        numbers, labels = rows
        reference_numbers, reference_labels = reference
        nearest = np.empty(len(numbers))
        for start in range(0, len(numbers), chunk):
            a = numbers[start:start + chunk, None, :]
            b = reference_numbers[None, :, :]
            difference = np.minimum(np.abs(a - b), 1.0)
            both_missing = np.isnan(a) & np.isnan(b)
            one_missing = np.isnan(a) ^ np.isnan(b)
            difference = np.where(both_missing, 0.0, np.where(one_missing, 1.0, difference))
            total = difference.sum(axis=2)
            total += (labels[start:start + chunk, None, :] != reference_labels[None, :, :]).sum(axis=2)
            nearest[start:start + chunk] = total.min(axis=1)
        return nearest


def closer_to_train(space, train_subset, holdout, synthetic, seed):
    rows = synthetic.sample(n=min(DCR_SYNTHETIC_ROWS, len(synthetic)), random_state=seed)
    encoded = space.encode(rows)
    to_train = space.closest(encoded, train_subset)
    to_holdout = space.closest(encoded, holdout)
    strict = float(np.mean(to_train < to_holdout))
    ties = float(np.mean(to_train == to_holdout))
    return strict + ties / 2, strict


def fmt(value, digits=3):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def score(arguments):
    metadata = load_metadata(arguments.metadata)
    numeric = {c for c in metadata["columns"] if c not in categorical_columns(metadata)}
    train = read_table(arguments.train, metadata)
    test = read_table(arguments.test, metadata)
    with open(arguments.runs) as handle:
        runs = [json.loads(line) for line in handle if line.strip()]

    encoder = Encoder([train, test], metadata)
    space = DistanceSpace(train, metadata)
    train_subset = space.encode(train.sample(n=len(test), random_state=arguments.seed))
    holdout = space.encode(test)

    print("scoring the real-train baseline", file=sys.stderr)
    real_auc = tstr_auc(train, test, encoder, arguments.seed)
    results = []
    for run in runs:
        print(f"scoring {run['name']}", file=sys.stderr)
        synthetic = read_table(run["output"], metadata)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quality, shapes, trends = quality_score(train, synthetic, metadata)
        share, strict = closer_to_train(space, train_subset, holdout, synthetic, arguments.seed)
        results.append(dict(run, quality=quality, shapes=shapes, trends=trends,
                            auc=tstr_auc(synthetic, test, encoder, arguments.seed),
                            copies=exact_copy_rate(train, synthetic, numeric),
                            closer=share, closer_strict=strict))
        print(f"  scored in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    report(results, real_auc, len(train), len(test))


def total_seconds(run):
    """Fit + sample; Veil's fit includes reading the CSV and preparing it."""
    return run.get("read_prepare_seconds", 0.0) + run["fit_seconds"] + run["sample_seconds"]


def report(results, real_auc, train_rows, test_rows):
    by_name = {r["name"]: r for r in results}
    print(f"Training rows {train_rows:,}, holdout (adult_test) rows {test_rows:,}. "
          f"Closer-to-train: {DCR_SYNTHETIC_ROWS:,} synthetic rows vs {test_rows:,} random "
          "training rows and the holdout (ties count ½; 0.5 = no leak).\n")
    print("| model | read+prepare s | fit s | sample s | fit+sample s | quality | shapes | pair trends "
          "| TSTR AUC | exact copies | closer to train (strict) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| real train (baseline) | — | — | — | — | — | — | — | {fmt(real_auc)} | — | — |")
    for r in results:
        read_prepare = r.get("read_prepare_seconds")
        print(f"| {r['name']} | {fmt(read_prepare, 2)} | {fmt(r['fit_seconds'], 2)} "
              f"| {fmt(r['sample_seconds'], 2)} | {fmt(total_seconds(r), 2)} | {fmt(r['quality'])} "
              f"| {fmt(r['shapes'])} | {fmt(r['trends'])} | {fmt(r['auc'])} | {r['copies']:.4f} "
              f"| {fmt(r['closer'])} ({fmt(r['closer_strict'])}) |")
    print("\nVeil's read+prepare (CSV parsing, type inference, rare-value suppression with k = 10) is "
          "counted in its fit+sample; SDV's read_csv is not.")
    sdv = by_name.get("sdv-gaussian-copula")
    if sdv:
        print(f"SDV implementation: {sdv['implementation']}")
    targets = []
    copula = by_name.get("gaussian-copula")
    if sdv and copula:
        ratio = total_seconds(sdv) / total_seconds(copula)
        ratio_model_only = total_seconds(sdv) / (copula["fit_seconds"] + copula["sample_seconds"])
        print(f"\n**Speed ratio SDV (fit+sample) / Veil gaussian-copula (read+prepare+fit+sample): "
              f"{ratio:.1f}×** (without Veil's read+prepare: {ratio_model_only:.1f}×)")
        targets.append(("gaussian-copula fit+sample ≥ 10× faster than SDV", f"{ratio:.1f}×",
                        ratio >= 10))
        targets.append(("gaussian-copula quality ≥ SDV's",
                        f"{copula['quality']:.3f} vs {sdv['quality']:.3f}",
                        copula["quality"] >= sdv["quality"]))
    cart = by_name.get("cart")
    if cart:
        targets += [
            ("cart quality ≥ 0.95", fmt(cart["quality"]), cart["quality"] >= 0.95),
            ("cart TSTR AUC ≥ 0.90", fmt(cart["auc"]), cart["auc"] >= 0.90),
            ("cart exact-copy rate 0", f"{cart['copies']:.4f}", cart["copies"] == 0),
            ("cart closer to train ≤ 0.53", fmt(cart["closer"]), cart["closer"] <= 0.53),
            ("cart fit+sample < 10 s on 2 cores", f"{total_seconds(cart):.2f} s",
             total_seconds(cart) < 10),
        ]
    bayes = [r for r in results if r["model"] == "bayes-net"]
    if bayes:
        listed = ", ".join(f"ε={r['epsilon']}: {fmt(r['quality'])} / {fmt(r['auc'])}" for r in bayes)
        targets.append(("bayes-net quality / AUC reported against ε", listed,
                        any(r["epsilon"] == "1" for r in bayes)))
    print("\n| issue target | measured | met |")
    print("|---|---|---|")
    for target, measured, met in targets:
        print(f"| {target} | {measured} | {'yes' if met else '**no**'} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sdv_parser = commands.add_parser("sdv")
    sdv_parser.add_argument("train")
    sdv_parser.add_argument("metadata")
    sdv_parser.add_argument("out_dir")
    sdv_parser.add_argument("--seed", type=int, default=0)
    score_parser = commands.add_parser("score")
    score_parser.add_argument("train")
    score_parser.add_argument("test")
    score_parser.add_argument("metadata")
    score_parser.add_argument("runs")
    score_parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    if arguments.command == "sdv":
        run_sdv(arguments)
    else:
        score(arguments)


if __name__ == "__main__":
    main()
