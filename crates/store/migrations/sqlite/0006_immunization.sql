-- Immunization registry: vaccination sites, vaccine lots, each person's coverage row and the
-- coverage counters kept up to date from them in the write transaction (see src/coverage.rs),
-- and the reasons commune staff give for residents still missing a dose (door-to-door lists).

CREATE TABLE vaccination_sites (
    code         TEXT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL,
    commune_code TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

-- product: EU DCC medicinal product code.
CREATE TABLE vaccine_lots (
    product TEXT NOT NULL,
    lot     TEXT NOT NULL,
    expiry  TEXT NOT NULL,
    PRIMARY KEY (product, lot)
) WITHOUT ROWID;

-- One row per register person not merged into another. Dates: when each level was reached.
CREATE TABLE person_coverage (
    person_id         TEXT NOT NULL PRIMARY KEY,
    province_code     TEXT NOT NULL,
    commune_code      TEXT NOT NULL,
    old_commune_code  TEXT,
    old_district_code TEXT,
    old_province_code TEXT,
    dob               TEXT NOT NULL,
    first_dose        TEXT,
    primary_complete  TEXT,
    booster1          TEXT,
    booster2          TEXT,
    doses             INTEGER NOT NULL,
    next_kind         TEXT,
    next_due          TEXT,
    last_change       TEXT
);
CREATE INDEX person_coverage_province ON person_coverage (province_code, dob);
CREATE INDEX person_coverage_commune ON person_coverage (commune_code, dob);
CREATE INDEX person_coverage_old_province ON person_coverage (old_province_code, dob);
CREATE INDEX person_coverage_old_district ON person_coverage (old_district_code, dob);
CREATE INDEX person_coverage_old_commune ON person_coverage (old_commune_code, dob);
CREATE INDEX person_coverage_changed ON person_coverage (last_change)
    WHERE last_change IS NOT NULL;

-- Persons of a unit (hierarchy '2025' or 'pre2025') born in a month who reached a level.
CREATE TABLE coverage_counts (
    hierarchy   TEXT NOT NULL,
    unit_code   TEXT NOT NULL,
    level       TEXT NOT NULL,
    birth_month TEXT NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (hierarchy, unit_code, level, birth_month)
) WITHOUT ROWID;

CREATE TABLE follow_up_reasons (
    person_id  TEXT NOT NULL PRIMARY KEY,
    reason     TEXT NOT NULL CHECK (reason IN
               ('contraindicated', 'moved_away', 'refused', 'unreachable', 'unknown')),
    note       TEXT NOT NULL DEFAULT '',
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
