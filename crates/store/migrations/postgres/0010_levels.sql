-- Weekly epidemic levels (see src/levels.rs): one assessment run per province, hierarchy and
-- week, proposed by a computation and approved by the province (an approved run takes effect
-- at `effective_at`, 48 h after it was computed; a later approval of the same week supersedes
-- it), the level of every unit in the run with the indicators used, and capacity figures typed
-- by staff for a unit and week. Dates as DATE, times as TIMESTAMPTZ, JSON as JSONB.
CREATE TABLE level_runs (
    id            UUID NOT NULL PRIMARY KEY,
    province_code TEXT NOT NULL,
    hierarchy     TEXT NOT NULL CHECK (hierarchy IN ('2025', 'pre2025')),
    week_start    DATE NOT NULL,
    week_end      DATE NOT NULL,
    ruleset       TEXT NOT NULL,
    computed_at   TIMESTAMPTZ NOT NULL,
    computed_by   TEXT NOT NULL,
    effective_at  TIMESTAMPTZ NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'superseded')),
    approved_by   TEXT,
    approved_at   TIMESTAMPTZ,
    units         BIGINT NOT NULL,
    crisis_units  BIGINT NOT NULL
);
CREATE INDEX level_runs_province ON level_runs (province_code, hierarchy, week_start);
CREATE INDEX level_runs_computed ON level_runs (computed_at);

CREATE TABLE level_assessments (
    run_id      UUID NOT NULL REFERENCES level_runs (id) ON DELETE CASCADE,
    unit_code   TEXT NOT NULL,
    unit_kind   TEXT NOT NULL CHECK (unit_kind IN ('commune', 'district', 'province')),
    parent_code TEXT NOT NULL,
    unit_name   TEXT NOT NULL,
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 4),
    crisis      BOOLEAN NOT NULL,
    unverified  BOOLEAN NOT NULL,
    indicators  JSONB NOT NULL,
    assessment  JSONB NOT NULL,
    PRIMARY KEY (run_id, unit_code)
);

CREATE TABLE capacity_inputs (
    unit_code           TEXT NOT NULL,
    week_start          DATE NOT NULL,
    free_covid_beds     DOUBLE PRECISION,
    icu_beds_staffed    DOUBLE PRECISION,
    oxygen_cases_7d_avg DOUBLE PRECISION,
    entered_by          TEXT NOT NULL,
    entered_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (unit_code, week_start)
);
