-- Population register: households, persons, and denominators derived from them.
-- Large tables carry province_code (2025) first in their primary key so that they can be
-- partitioned by province or distributed with Citus (distribution column province_code).
CREATE TABLE households (
    province_code    TEXT NOT NULL,
    id               UUID NOT NULL,
    commune_code     TEXT NOT NULL,
    old_commune_code TEXT,
    address          TEXT NOT NULL,
    PRIMARY KEY (province_code, id)
);

CREATE TABLE persons (
    province_code    TEXT NOT NULL,
    id               UUID NOT NULL,
    commune_code     TEXT NOT NULL,
    old_commune_code TEXT,
    household_id     UUID,
    full_name        TEXT NOT NULL,
    name_folded      TEXT NOT NULL,
    dob              DATE NOT NULL,
    sex              TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    national_id      TEXT CHECK (national_id IS NULL OR length(national_id) = 12),
    phone            TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, id)
);
CREATE UNIQUE INDEX persons_id ON persons (id);
CREATE UNIQUE INDEX persons_national_id ON persons (national_id) WHERE national_id IS NOT NULL;
CREATE INDEX persons_commune ON persons (commune_code, name_folded);
CREATE INDEX persons_old_commune ON persons (old_commune_code);
CREATE INDEX persons_phone ON persons (phone) WHERE phone IS NOT NULL;

CREATE TABLE population_denominators (
    province_code TEXT NOT NULL,
    commune_code  TEXT NOT NULL,
    sex           TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    age_band      SMALLINT NOT NULL CHECK (age_band BETWEEN 0 AND 80 AND age_band % 5 = 0),
    population    BIGINT NOT NULL CHECK (population >= 0),
    as_of         DATE NOT NULL,
    PRIMARY KEY (province_code, commune_code, sex, age_band)
);
