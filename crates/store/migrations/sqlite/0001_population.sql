-- Population register: households, persons, and denominators derived from them.
-- SQLite serves one province or district: ids alone are the primary keys (PostgreSQL puts
-- province_code first in its keys for partitioning; see migrations/postgres).
CREATE TABLE households (
    id               TEXT NOT NULL PRIMARY KEY,
    province_code    TEXT NOT NULL,
    commune_code     TEXT NOT NULL,
    old_commune_code TEXT,
    address          TEXT NOT NULL
);

CREATE TABLE persons (
    id               TEXT NOT NULL PRIMARY KEY,
    province_code    TEXT NOT NULL,
    commune_code     TEXT NOT NULL,
    old_commune_code TEXT,
    household_id     TEXT,
    full_name        TEXT NOT NULL,
    name_folded      TEXT NOT NULL,
    dob              TEXT NOT NULL,
    sex              TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    national_id      TEXT CHECK (national_id IS NULL OR length(national_id) = 12),
    phone            TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE UNIQUE INDEX persons_national_id ON persons (national_id) WHERE national_id IS NOT NULL;
CREATE INDEX persons_commune ON persons (commune_code, name_folded);
CREATE INDEX persons_old_commune ON persons (old_commune_code);
CREATE INDEX persons_phone ON persons (phone) WHERE phone IS NOT NULL;

CREATE TABLE population_denominators (
    province_code TEXT NOT NULL,
    commune_code  TEXT NOT NULL,
    sex           TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    age_band      INTEGER NOT NULL CHECK (age_band BETWEEN 0 AND 80 AND age_band % 5 = 0),
    population    INTEGER NOT NULL CHECK (population >= 0),
    as_of         TEXT NOT NULL,
    PRIMARY KEY (province_code, commune_code, sex, age_band)
);
