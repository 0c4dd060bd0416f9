#!/usr/bin/env python3
"""Link vaccination-site records to a population register with Splink 5 (DuckDB backend).

Usage: splink_link.py POPULATION RECORDS OUT

POPULATION: person_id,full_name,dob,sex,national_id,commune_code,phone
RECORDS:    record_id,full_name,dob,sex,national_id,commune_code,phone
OUT:        record_id,person_id,score — one row per record; person_id is empty when the
            record is not linked, score is the match probability of the chosen link (or of the
            best candidate seen when unlinked; empty when no candidate was scored at all).

This is the competitor configuration for `phongdich link` (see README.md). It is written the
way a competent Splink user would set up a Vietnamese person linkage: normalise in DuckDB SQL,
split names into family / middle / given, compare each field with graded levels, block on
several keys, train u by random sampling and m by EM, predict, then resolve one-to-one.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

HERE = Path(__file__).resolve().parent
# Official pre-2025 → 2025 commune code mapping (the same public file phongdich embeds). Records
# typed at vaccination sites sometimes carry the pre-2025 code; without this mapping neither tool
# could tell that commune 00006 (old) is commune 00008 (new).
COMMUNE_MAP = HERE.parent.parent / "crates/domain/data/commune-map-pre2025-to-2025.csv"

# Final decision rule, the same as phongdich's default link threshold.
LINK_THRESHOLD = 0.99
# Pairs below this are not kept by predict(); those between it and LINK_THRESHOLD only serve to
# report a "best candidate" score for unlinked records (like phongdich's review band).
PREDICT_THRESHOLD = 0.5

log = logging.getLogger("splink_link")


# --------------------------------------------------------------------------------------------
# Preprocessing (DuckDB SQL)
# --------------------------------------------------------------------------------------------

MACROS = r"""
-- lower-case, Unicode NFC, collapse runs of whitespace, '' → NULL
CREATE OR REPLACE MACRO clean_text(s) AS
    nullif(trim(regexp_replace(nfc_normalize(lower(coalesce(s, ''))), '\s+', ' ', 'g')), '');
-- drop Vietnamese diacritics: strip_accents handles tone and vowel marks, but đ is a letter of
-- its own (not a combining mark) so it has to be mapped by hand
CREATE OR REPLACE MACRO fold(s) AS replace(strip_accents(s), 'đ', 'd');
-- the two common surname spelling variants that are the same family name in practice
CREATE OR REPLACE MACRO canon_surname(s) AS
    CASE s WHEN 'huynh' THEN 'hoang' WHEN 'vo' THEN 'vu' ELSE s END;
"""

# {src} is the raw CSV relation, {id} its id column.
PREPARE_SQL = r"""
CREATE OR REPLACE TABLE {name} AS
WITH raw AS (
    SELECT
        CAST({id} AS VARCHAR)                         AS unique_id,
        -- words run together in mixed case ("VũQuỳnh Yến") are split where a lower-case
        -- letter is followed by an upper-case one, before lower-casing
        clean_text(regexp_replace(full_name, '(\p{{Ll}})(\p{{Lu}})', '\1 \2', 'g'))
                                                      AS name_clean,
        regexp_replace(coalesce(dob, ''), '\s', '', 'g') AS dob_raw,
        clean_text(sex)                               AS sex,
        nullif(upper(regexp_replace(coalesce(national_id, ''), '[^0-9A-Za-z]', '', 'g')), '')
                                                      AS national_id,
        nullif(trim(coalesce(commune_code, '')), '')  AS commune_code,
        nullif(regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g'), '') AS phone_digits
    FROM {src}
),
parts AS (
    SELECT *,
        string_split(name_clean, ' ') AS toks,
        -- dob: YYYY, YYYY-MM-DD, or YYYY-DD-MM (day/month swapped)
        CASE WHEN regexp_matches(dob_raw, '^\d{{4}}') THEN CAST(substr(dob_raw, 1, 4) AS INTEGER) END AS y,
        CASE WHEN regexp_matches(dob_raw, '^\d{{4}}-\d{{1,2}}-\d{{1,2}}$')
             THEN CAST(split_part(dob_raw, '-', 2) AS INTEGER) END AS p2,
        CASE WHEN regexp_matches(dob_raw, '^\d{{4}}-\d{{1,2}}-\d{{1,2}}$')
             THEN CAST(split_part(dob_raw, '-', 3) AS INTEGER) END AS p3
    FROM raw
),
named AS (
    SELECT *,
        -- Vietnamese order: family name first, given name last, middle name(s) in between.
        CASE WHEN len(toks) >= 2 THEN toks[1] END                             AS family_exact,
        CASE WHEN len(toks) >= 3 THEN array_to_string(toks[2:len(toks) - 1], ' ') END
                                                                              AS middle_exact,
        CASE WHEN len(toks) >= 1 THEN toks[len(toks)] END                     AS given_exact,
        -- month/day: take YYYY-MM-DD when valid; when the middle part cannot be a month but the
        -- last part can, the typist swapped them (YYYY-DD-MM): repair it.
        CASE WHEN p2 BETWEEN 1 AND 12 AND p3 BETWEEN 1 AND 31 THEN p2
             WHEN p3 BETWEEN 1 AND 12 AND p2 BETWEEN 13 AND 31 THEN p3 END    AS m,
        CASE WHEN p2 BETWEEN 1 AND 12 AND p3 BETWEEN 1 AND 31 THEN p3
             WHEN p3 BETWEEN 1 AND 12 AND p2 BETWEEN 13 AND 31 THEN p2 END    AS d
    FROM parts
)
SELECT
    unique_id,
    canon_surname(fold(family_exact))                 AS family_folded,
    fold(middle_exact)                                AS middle_folded,
    fold(given_exact)                                 AS given_folded,
    y                                                 AS dob_year,
    m                                                 AS dob_month,
    d                                                 AS dob_day,
    CASE WHEN d IS NOT NULL THEN printf('%04d-%02d-%02d', y, m, d) END AS dob_full,
    CASE WHEN sex IN ('male', 'm', 'nam') THEN 'male'
         WHEN sex IN ('female', 'f', 'nu', 'nữ') THEN 'female' END AS sex,
    national_id,
    commune_code,
    -- the code itself plus the 2025 communes it became if it is a pre-2025 code
    CASE WHEN commune_code IS NOT NULL THEN
        list_sort(list_distinct(list_concat([commune_code], coalesce(cm.new_codes, []))))
    END                                               AS commune_set,
    -- +84 / 84 international prefix → national 0 prefix
    CASE WHEN phone_digits LIKE '84%' AND length(phone_digits) = 11
         THEN '0' || substr(phone_digits, 3) ELSE phone_digits END AS phone
FROM named
LEFT JOIN (SELECT old_code, list(new_code) AS new_codes FROM commune_map GROUP BY old_code) cm
    ON cm.old_code = named.commune_code
"""


def sql_string(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def prepare(con: duckdb.DuckDBPyConnection, population: str, records: str) -> None:
    con.execute(MACROS)
    con.execute(
        "CREATE OR REPLACE TABLE commune_map AS "
        "SELECT old_commune_code AS old_code, new_commune_code AS new_code "
        "FROM read_csv(?, header=true, all_varchar=true)",
        [str(COMMUNE_MAP)],
    )
    for name, path, id_col in (
        ("population_prepared", population, "person_id"),
        ("records_prepared", records, "record_id"),
    ):
        src = f"read_csv({sql_string(path)}, header=true, all_varchar=true)"
        con.execute(PREPARE_SQL.format(name=name, src=src, id=id_col))


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


def name_comparison(part: str, tf: bool) -> cl.CustomComparison:
    """Same folded name (term-frequency adjusted) > Jaro-Winkler ≥ 0.92 > ≥ 0.85 > else.

    Names are compared without diacritics: ~30% of records lost them, so an extra "exact with
    diacritics" level mostly splits the agreement level in two. (Tried: with TF adjustment on
    both levels, Splink's TF formula gives a folded-only agreement on Nguyễn a Bayes factor below
    1, and recall drops from 0.996 to 0.991 on the 100k set.) The term-frequency adjustment makes
    agreeing on "Nguyen" or "Van" count for much less than agreeing on a rare name.
    """
    folded = f"{part}_folded"
    exact_level = cll.ExactMatchLevel(folded)
    if tf:
        exact_level.configure(tf_adjustment_column=folded)
    return cl.CustomComparison(
        output_column_name=f"{part}_name",
        comparison_levels=[
            cll.NullLevel(folded),
            exact_level,
            cll.JaroWinklerLevel(folded, 0.92),
            cll.JaroWinklerLevel(folded, 0.85),
            cll.ElseLevel(),
        ],
    )


def dob_comparison() -> cl.CustomComparison:
    """Dates of birth that may be year-only or have day and month swapped.

    DateOfBirthComparison needs parseable dates and treats YYYY as invalid (→ null), which would
    throw away the year agreement of ~8% of records, so the levels are written out by hand.
    """
    both_full = "dob_full_l IS NOT NULL AND dob_full_r IS NOT NULL"
    return cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob_year"),
            cll.CustomLevel("dob_full_l = dob_full_r", "exact"),
            cll.CustomLevel(
                f"{both_full} AND dob_year_l = dob_year_r AND dob_month_l = dob_day_r "
                "AND dob_day_l = dob_month_r",
                "day/month swapped",
            ),
            # like DateOfBirthComparison's date-difference levels, at day granularity
            cll.CustomLevel(
                f"{both_full} AND abs(date_diff('day', try_cast(dob_full_l AS DATE), "
                "try_cast(dob_full_r AS DATE))) <= 1",
                "within one day",
            ),
            cll.CustomLevel(
                f"{both_full} AND damerau_levenshtein(dob_full_l, dob_full_r) <= 1",
                "one-character edit",
            ),
            cll.CustomLevel(
                f"{both_full} AND dob_year_l = dob_year_r AND dob_month_l = dob_month_r",
                "same year and month",
            ),
            cll.CustomLevel(
                "dob_year_l = dob_year_r AND (dob_full_l IS NULL OR dob_full_r IS NULL)",
                "same year, one side year only",
            ),
            cll.CustomLevel("dob_year_l = dob_year_r", "same year"),
            cll.CustomLevel("abs(dob_year_l - dob_year_r) = 1", "year ± 1"),
            cll.ElseLevel(),
        ],
    )


def commune_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="commune",
        comparison_levels=[
            cll.NullLevel("commune_code"),
            cll.ExactMatchLevel("commune_code"),
            cll.ArrayIntersectLevel("commune_set", 1).configure(
                label_for_charts="same after pre-2025 → 2025 mapping"
            ),
            cll.ElseLevel(),
        ],
    )


# Blocking rules for prediction: a pair is scored if it agrees on any of them. Chosen with a
# blocking analysis on the 100k × 50k data set (pairs to score vs. share of true matches that
# meet at least one rule): together they keep 99.98% of true pairs with ~0.9M comparisons.
# Loose rules such as "same family name and birth year" (12M pairs at 100k, ~1.2 billion at
# 1M × 500k — Nguyễn is ~38% of Vietnamese) are replaced by tighter combinations that cover the
# same error patterns (a typo in one name part is caught by a rule on the other parts).
PREDICTION_BLOCKING = [
    block_on("national_id"),
    block_on("phone"),
    block_on("given_folded", "dob_full"),
    block_on("family_folded", "dob_full"),
    block_on("family_folded", "given_folded", "dob_year"),
    block_on("middle_folded", "given_folded", "dob_year"),
    block_on("family_folded", "middle_folded", "dob_year", "substr(given_folded, 1, 1)"),
    block_on("given_folded", "dob_year", "commune_code"),
]


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            name_comparison("family", tf=True),
            name_comparison("middle", tf=True),
            name_comparison("given", tf=True),
            dob_comparison(),
            cl.ExactMatch("sex"),
            # citizen IDs: one typo / one adjacent swap is DL 1
            cl.DamerauLevenshteinAtThresholds("national_id", [1, 2]),
            commune_comparison(),
            cl.ExactMatch("phone"),
        ],
        blocking_rules_to_generate_predictions=PREDICTION_BLOCKING,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=25,
        em_convergence=0.0001,
    )


def train(linker: Linker) -> None:
    t = linker.training
    step = time.time()

    def done(what: str) -> None:
        nonlocal step
        log.info("  %s: %.1fs", what, time.time() - step)
        step = time.time()

    # λ: pairs found by near-certain deterministic rules, scaled up by their assumed recall.
    t.estimate_probability_two_random_records_match(
        [
            block_on("national_id", "dob_year"),
            block_on("family_folded", "given_folded", "dob_full"),
        ],
        recall=0.8,
    )
    done("probability_two_random_records_match")
    # u from random pairs (nearly all non-matches).
    t.estimate_u_using_random_sampling(max_pairs=1e7, seed=2021)
    done("u by random sampling")
    # m by EM on two blocks that each leave the other fields free to vary:
    # block on the citizen ID → trains names, dob, sex, commune, phone;
    t.estimate_parameters_using_expectation_maximisation(block_on("national_id"))
    done("EM on national_id")
    # block on names + birth year → trains national_id (and phone, commune, sex). This block
    # grows with n·m (14M pairs at 1M × 500k); 2M sampled pairs are plenty for EM.
    t.estimate_parameters_using_expectation_maximisation(
        block_on("family_folded", "given_folded", "dob_year"), max_pairs=2e6
    )
    done("EM on family+given+year")


# --------------------------------------------------------------------------------------------
# One-to-one resolution and output
# --------------------------------------------------------------------------------------------


def resolve(
    con: duckdb.DuckDBPyConnection, predictions_table: str, out: str, threshold: float
) -> int:
    """Greedy one-to-one: take pairs ≥ threshold best first, skip a pair whose record or
    person is already linked. Writes every record. Returns the number of links."""
    edges = con.execute(
        f"""
        SELECT unique_id_r AS record_id, unique_id_l AS person_id, match_probability
        FROM {predictions_table}
        WHERE match_probability >= {threshold}
        ORDER BY match_probability DESC, record_id, person_id
        """
    ).fetchall()
    used_records: dict[str, tuple[str, float]] = {}
    used_persons: set[str] = set()
    for rec, person, p in edges:
        if rec in used_records or person in used_persons:
            continue
        used_records[rec] = (person, p)
        used_persons.add(person)
    links = pa.table(
        {
            "record_id": pa.array(list(used_records), pa.string()),
            "person_id": pa.array([v[0] for v in used_records.values()], pa.string()),
            "p": pa.array([v[1] for v in used_records.values()], pa.float64()),
        }
    )
    con.register("links", links)
    con.execute(
        f"""
        COPY (
            SELECT r.unique_id AS record_id,
                   l.person_id AS person_id,
                   printf('%.6f', coalesce(l.p, b.best)) AS score
            FROM records_prepared r
            LEFT JOIN links l ON l.record_id = r.unique_id
            LEFT JOIN (SELECT unique_id_r AS record_id, max(match_probability) AS best
                       FROM {predictions_table} GROUP BY 1) b ON b.record_id = r.unique_id
            ORDER BY r.unique_id
        ) TO {sql_string(out)} (HEADER, DELIMITER ',')
        """
    )
    return len(used_records)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("population")
    ap.add_argument("records")
    ap.add_argument("out")
    ap.add_argument(
        "--threshold",
        type=float,
        default=LINK_THRESHOLD,
        help=f"link probability threshold (default {LINK_THRESHOLD}, as phongdich)",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    t0 = time.time()
    con = duckdb.connect(":memory:")
    threads = os.cpu_count() or 1
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    prepare(con, args.population, args.records)
    log.info("prepared inputs in %.1fs (%d threads)", time.time() - t0, threads)

    db_api = DuckDBAPI(con)
    # Left = register, right = records; link_only never compares within one table.
    population = db_api.register("population_prepared", dataset_display_name="population")
    records = db_api.register("records_prepared", dataset_display_name="records")
    linker = Linker([population, records], settings(), log_level=logging.WARNING)

    t1 = time.time()
    train(linker)
    log.info("trained in %.1fs", time.time() - t1)

    t2 = time.time()
    predictions = linker.inference.predict(threshold_match_probability=PREDICT_THRESHOLD)
    n_pairs = con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchone()[0]
    log.info("predicted %d pairs ≥ %.2f in %.1fs", n_pairs, PREDICT_THRESHOLD, time.time() - t2)

    linked = resolve(con, predictions.physical_name, args.out, args.threshold)
    n_records = con.execute("SELECT count(*) FROM records_prepared").fetchone()[0]
    log.info("linked %d of %d records; total %.1fs", linked, n_records, time.time() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
