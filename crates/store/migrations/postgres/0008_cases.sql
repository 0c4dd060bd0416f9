-- Case surveillance (see src/cases.rs): laboratory tests (one per `test` source record), cases
-- (episodes of infection, F0) with their home-care state, daily check-ins, per-unit daily
-- counters kept up to date in the write transactions, and the daily reports units submit.
-- Enumerations are stored by their codes (domain::surveillance). Large tables carry
-- province_code (2025) first in their primary key (partitioning / Citus) and a unique index on id.

-- Units (both hierarchies) are those of the person's residence, or of the commune typed on the
-- record when the person is not known; empty codes when unknown.
CREATE TABLE lab_tests (
    province_code     TEXT NOT NULL,
    id                UUID NOT NULL REFERENCES source_records (id),
    commune_code      TEXT NOT NULL,
    old_commune_code  TEXT,
    old_district_code TEXT,
    old_province_code TEXT,
    person_id         UUID,
    lab_code          TEXT NOT NULL,
    sample_date       DATE NOT NULL,
    test_type         TEXT NOT NULL CHECK (test_type IN ('rt-pcr', 'rapid-antigen', 'antibody')),
    result            TEXT NOT NULL CHECK (result IN ('positive', 'negative', 'inconclusive')),
    case_id           UUID,
    sample_id         UUID,
    received_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (province_code, id)
);
CREATE UNIQUE INDEX lab_tests_id ON lab_tests (id);
CREATE INDEX lab_tests_person ON lab_tests (person_id, sample_date) WHERE person_id IS NOT NULL;
CREATE INDEX lab_tests_case ON lab_tests (case_id, sample_date) WHERE case_id IS NOT NULL;

CREATE TABLE cases (
    province_code     TEXT NOT NULL,
    id                UUID NOT NULL,
    commune_code      TEXT NOT NULL,
    old_commune_code  TEXT,
    old_district_code TEXT,
    old_province_code TEXT,
    person_id         UUID,
    source_record_id  UUID NOT NULL,
    full_name         TEXT NOT NULL,
    dob               DATE,
    sex               TEXT NOT NULL,
    phone             TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    classification    TEXT NOT NULL CHECK (classification IN ('confirmed', 'probable', 'discarded')),
    first_positive    DATE NOT NULL,
    last_positive     DATE NOT NULL,
    onset             DATE,
    detection_source  TEXT NOT NULL CHECK (detection_source IN ('community', 'imported', 'quarantine')),
    risk              JSONB NOT NULL,
    high_risk         BOOLEAN NOT NULL,
    severity          TEXT NOT NULL
                      CHECK (severity IN ('asymptomatic', 'mild', 'moderate', 'severe', 'critical')),
    care_setting      TEXT NOT NULL CHECK (care_setting IN ('home', 'tier1', 'tier2', 'tier3')),
    on_oxygen         BOOLEAN NOT NULL,
    outcome           TEXT CHECK (outcome IN ('recovered', 'died', 'transferred_out')),
    outcome_date      DATE,
    isolation_end     DATE NOT NULL,
    followup_until    DATE NOT NULL,
    disease_group     TEXT NOT NULL,
    reported_at       TIMESTAMPTZ NOT NULL,
    report_deadline   TIMESTAMPTZ NOT NULL,
    report_met        BOOLEAN NOT NULL,
    last_checkin_at   TIMESTAMPTZ,
    alert             TEXT NOT NULL CHECK (alert IN ('none', 'overdue', 'warning', 'emergency')),
    alert_reasons     JSONB NOT NULL,
    ruleset           TEXT NOT NULL,
    cluster_id        UUID,
    note              TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (province_code, id)
);
CREATE UNIQUE INDEX cases_id ON cases (id);
CREATE UNIQUE INDEX cases_source_record ON cases (source_record_id);
CREATE INDEX cases_person ON cases (person_id, first_positive) WHERE person_id IS NOT NULL;
-- Alert queue (open home-care cases of a unit) and current-state counts (covered: the counts
-- of a province's open cases read the index only); the pre-2025 one also serves listings by old
-- commune (a few thousand rows to sort).
CREATE INDEX cases_commune_status ON cases
    (commune_code, status, care_setting, severity, alert, on_oxygen, classification);
CREATE INDEX cases_old_commune_status ON cases
    (old_commune_code, status, care_setting, severity, alert, on_oxygen, classification)
    WHERE old_commune_code IS NOT NULL;
CREATE INDEX cases_province_status ON cases
    (province_code, status, care_setting, severity, alert, on_oxygen, classification);
-- Listing, newest first.
CREATE INDEX cases_commune_listing ON cases (commune_code, first_positive);
CREATE INDEX cases_province_listing ON cases (province_code, first_positive);
CREATE INDEX cases_cluster ON cases (cluster_id) WHERE cluster_id IS NOT NULL;

-- checked_by: username of the staff member, or `citizen`.
CREATE TABLE case_checkins (
    province_code TEXT NOT NULL,
    id            UUID NOT NULL,
    case_id       UUID NOT NULL REFERENCES cases (id),
    at            TIMESTAMPTZ NOT NULL,
    checked_by    TEXT NOT NULL,
    vitals        JSONB NOT NULL,
    assessment    JSONB NOT NULL,
    escalate      BOOLEAN NOT NULL,
    severity      TEXT NOT NULL
                  CHECK (severity IN ('asymptomatic', 'mild', 'moderate', 'severe', 'critical')),
    alert         TEXT NOT NULL CHECK (alert IN ('none', 'overdue', 'warning', 'emergency')),
    PRIMARY KEY (province_code, id)
);
CREATE UNIQUE INDEX case_checkins_id ON case_checkins (id);
CREATE INDEX case_checkins_case ON case_checkins (case_id, at);

-- Counters per unit (2025 commune and pre-2025 commune, '' when unknown) and day: tests and
-- positive tests by sample date, new cases by first positive, deaths and recoveries by outcome
-- date (discarded cases are not counted). Rebuilt from lab_tests and cases by
-- `rebuild_daily_counters`.
CREATE TABLE surveillance_daily (
    province_code    TEXT NOT NULL,
    commune_code     TEXT NOT NULL,
    old_commune_code TEXT NOT NULL,
    day              DATE NOT NULL,
    tests            BIGINT NOT NULL DEFAULT 0,
    positive_tests   BIGINT NOT NULL DEFAULT 0,
    new_cases        BIGINT NOT NULL DEFAULT 0,
    deaths           BIGINT NOT NULL DEFAULT 0,
    recoveries       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (province_code, commune_code, old_commune_code, day)
);
CREATE INDEX surveillance_daily_commune ON surveillance_daily (commune_code, day);
CREATE INDEX surveillance_daily_old_commune ON surveillance_daily (old_commune_code, day);
CREATE INDEX surveillance_daily_province ON surveillance_daily (province_code, day);

-- A unit's report for a day (hierarchy '2025' or 'pre2025'), figures as submitted.
CREATE TABLE daily_reports (
    unit_code    TEXT NOT NULL,
    hierarchy    TEXT NOT NULL CHECK (hierarchy IN ('2025', 'pre2025')),
    day          DATE NOT NULL,
    figures      JSONB NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (unit_code, hierarchy, day)
);
CREATE INDEX daily_reports_day ON daily_reports (day, unit_code);
