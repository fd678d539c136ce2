"""Splink 5 (DuckDB) on famlink's child/inquiry fixtures, for comparison with
`famlink match`: writes, for each inquiry, its top-K children in the same CSV form as
`famlink match`, so that `famlink eval` scores both tools the same way.

    /tmp/peer-venv/bin/python scripts/splink_tracing.py DIR OUT.csv [--top 5]

Configured as a competent Splink user would for this data (following the FEBRL
scripts in ../shared/peers/): names transliterated to ASCII (anyascii, as famlink
does) and lower-cased; the whole name split into parts so that given and family
name order does not matter; birth year from the birth date or the estimated age;
comparisons with Jaro-Winkler levels and term-frequency adjustment on names;
the parents' first names and places compared; link_only; λ from deterministic
rules, u from random sampling, m by EM in two sessions (blocked on the first name
and on the birth year); several blocking rules for predictions. The bands use
famlink's thresholds (likely >= 0.95, possible >= 0.001).

Requires: splink==5.0.0, anyascii (pip).
"""
import argparse
import csv
import logging
import re
import sys
import time

import duckdb
import splink.comparison_library as cl
import splink.comparison_level_library as cll
from anyascii import anyascii
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

ap = argparse.ArgumentParser()
ap.add_argument("data")
ap.add_argument("out")
ap.add_argument("--top", type=int, default=5)
ap.add_argument("--likely", type=float, default=0.95)
ap.add_argument("--possible", type=float, default=0.001)
args = ap.parse_args()
logging.getLogger("splink").setLevel(logging.WARNING)
t0 = time.perf_counter()

PLACEHOLDERS = {"unknown", "unk", "lnu", "fnu", "nfn", "n a", "na", "none", "nil", "xxx"}
PARTICLES = {"bin", "bint", "binti", "ibn", "bn", "bnt", "s", "o", "d", "al", "el", "wad", "ould"}


def norm(s):
    s = anyascii(s or "").lower()
    s = re.sub(r"['`]", "", s)
    s = re.sub(r"[^a-z0-9]+", " ", s).strip()
    return "" if s in PLACEHOLDERS else s


def parts(s):
    return [t for t in norm(s).split() if t not in PARTICLES]


def birth(row):
    d = row["birth_date"]
    if d:
        y = int(d[:4])
        full = d if len(d) == 10 and not d.endswith("-01-01") else None
        return y, full
    if row["age_years"] and row["age_recorded_on"]:
        return int(row["age_recorded_on"][:4]) - int(float(row["age_years"])), None
    return None, None


def flatten(path, kind):
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            given = parts(r["given_name"])
            family = parts(r["family_name"])
            others = [p for o in r["other_names"].split(";") for p in parts(o)]
            allp = given + family + others
            y, full = birth(r)
            father = parts(r["father_name"])
            mother = parts(r["mother_name"])
            if kind == "inquiry" and r.get("inquirer_relationship") == "father" and not father:
                father = parts(r["inquirer_name"])
            if kind == "inquiry" and r.get("inquirer_relationship") == "mother" and not mother:
                mother = parts(r["inquirer_name"])
            out.append({
                "unique_id": r["record_id"],
                "agency": r["agency"],
                "first_name": given[0] if given else (allp[0] if allp else None),
                "surname": family[0] if family else (given[-1] if len(given) > 1 else None),
                "name_parts": sorted(set(allp)) or None,
                "sex": r["sex"] if r["sex"] in ("M", "F") else None,
                "birth_year": y,
                "birth_date": full,
                "father_first": father[0] if father else None,
                "mother_first": mother[0] if mother else None,
                "village": norm(r["origin_village"]) or None,
                "district": norm(r["origin_district"]) or None,
                "country": r["origin_country"] or None,
            })
    return out


children = flatten(f"{args.data}/children.csv", "child")
inquiries = flatten(f"{args.data}/inquiries.csv", "inquiry")
agency = {r["unique_id"]: r["agency"] for r in children + inquiries}
con = duckdb.connect()
import pandas as pd  # noqa: E402  (Splink's dependency)

con.register("c_df", pd.DataFrame(children))
con.register("i_df", pd.DataFrame(inquiries))
con.execute("create table children as select * from c_df")
con.execute("create table inquiries as select * from i_df")
t_load = time.perf_counter() - t0

comparisons = [
    cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
    cl.NameComparison("surname").configure(term_frequency_adjustments=True),
    cl.ArrayIntersectAtSizes("name_parts", [3, 2, 1]),
    cl.ExactMatch("sex"),
    cl.CustomComparison(
        output_column_name="birth",
        comparison_levels=[
            cll.NullLevel("birth_year"),
            cll.ExactMatchLevel("birth_date"),
            cll.ExactMatchLevel("birth_year"),
            cll.CustomLevel("abs(birth_year_l - birth_year_r) <= 1", "within 1 year"),
            cll.CustomLevel("abs(birth_year_l - birth_year_r) <= 3", "within 3 years"),
            cll.ElseLevel(),
        ],
    ),
    cl.NameComparison("father_first").configure(term_frequency_adjustments=True),
    cl.NameComparison("mother_first").configure(term_frequency_adjustments=True),
    cl.JaroWinklerAtThresholds("village", [0.9]).configure(term_frequency_adjustments=True),
    cl.ExactMatch("district"),
]
blocking = [
    block_on("first_name"),
    block_on("surname", "birth_year"),
    "l.first_name = r.surname and l.surname = r.first_name",
    block_on("father_first", "mother_first"),
    block_on("father_first", "birth_year"),
    block_on("mother_first", "village"),
    block_on("substr(first_name, 1, 3)", "birth_year"),
]
settings = SettingsCreator(
    link_type="link_only",
    unique_id_column_name="unique_id",
    blocking_rules_to_generate_predictions=blocking,
    comparisons=comparisons,
    retain_intermediate_calculation_columns=False,
)
db_api = DuckDBAPI(connection=con)
linker = Linker(
    [db_api.register("children", dataset_display_name="children"),
     db_api.register("inquiries", dataset_display_name="inquiries")],
    settings,
)
linker.training.estimate_probability_two_random_records_match(
    [block_on("first_name", "surname", "birth_year"), block_on("first_name", "father_first")],
    recall=0.6,
)
linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
linker.training.estimate_parameters_using_expectation_maximisation(
    block_on("first_name"), estimate_without_term_frequencies=True)
linker.training.estimate_parameters_using_expectation_maximisation(
    block_on("birth_year"), estimate_without_term_frequencies=True)
t_train = time.perf_counter() - t0 - t_load
pred = linker.inference.predict(threshold_match_probability=args.possible)
rows = con.execute(f"""
    select * from (
      select case when source_dataset_l = 'inquiries' then unique_id_l else unique_id_r end as q,
             case when source_dataset_l = 'inquiries' then unique_id_r else unique_id_l end as c,
             match_probability as p
      from {pred.physical_name})
    qualify row_number() over (partition by q order by p desc, c) <= {args.top}
    order by q, p desc, c
""").fetchall()
t_pred = time.perf_counter() - t0 - t_load - t_train
with open(args.out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["inquiry_agency", "inquiry_record_id", "child_agency", "child_record_id",
                "rank", "probability", "band", "explanation"])
    rank, last = 0, None
    for q, c, p in rows:
        rank = rank + 1 if q == last else 1
        last = q
        band = "likely" if p >= args.likely else "possible"
        w.writerow([agency[q], q, agency[c], c, rank, f"{p:.4f}", band, ""])
print(f"splink: load {t_load:.1f} s, train {t_train:.1f} s, predict {t_pred:.1f} s, "
      f"{len(rows)} proposals", file=sys.stderr)
