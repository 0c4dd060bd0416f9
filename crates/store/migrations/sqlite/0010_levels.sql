-- Weekly epidemic levels (see src/levels.rs): one assessment run per province, hierarchy and
-- week, proposed by a computation and approved by the province (an approved run takes effect
-- at `effective_at`, 48 h after it was computed; a later approval of the same week supersedes
-- it), the level of every unit in the run with the indicators used, and capacity figures typed
-- by staff for a unit and week. Dates as YYYY-MM-DD, times as RFC 3339 text, JSON as text.
CREATE TABLE level_runs (
    id            TEXT NOT NULL PRIMARY KEY,
    province_code TEXT NOT NULL,
    hierarchy     TEXT NOT NULL CHECK (hierarchy IN ('2025', 'pre2025')),
    week_start    TEXT NOT NULL,
    week_end      TEXT NOT NULL,
    ruleset       TEXT NOT NULL,
    computed_at   TEXT NOT NULL,
    computed_by   TEXT NOT NULL,
    effective_at  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'superseded')),
    approved_by   TEXT,
    approved_at   TEXT,
    units         INTEGER NOT NULL,
    crisis_units  INTEGER NOT NULL
);
CREATE INDEX level_runs_province ON level_runs (province_code, hierarchy, week_start);
CREATE INDEX level_runs_computed ON level_runs (computed_at);

CREATE TABLE level_assessments (
    run_id      TEXT NOT NULL REFERENCES level_runs (id) ON DELETE CASCADE,
    unit_code   TEXT NOT NULL,
    unit_kind   TEXT NOT NULL CHECK (unit_kind IN ('commune', 'district', 'province')),
    parent_code TEXT NOT NULL,
    unit_name   TEXT NOT NULL,
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 4),
    crisis      INTEGER NOT NULL,
    unverified  INTEGER NOT NULL,
    indicators  TEXT NOT NULL,
    assessment  TEXT NOT NULL,
    PRIMARY KEY (run_id, unit_code)
) WITHOUT ROWID;

CREATE TABLE capacity_inputs (
    unit_code           TEXT NOT NULL,
    week_start          TEXT NOT NULL,
    free_covid_beds     REAL,
    icu_beds_staffed    REAL,
    oxygen_cases_7d_avg REAL,
    entered_by          TEXT NOT NULL,
    entered_at          TEXT NOT NULL,
    PRIMARY KEY (unit_code, week_start)
) WITHOUT ROWID;
