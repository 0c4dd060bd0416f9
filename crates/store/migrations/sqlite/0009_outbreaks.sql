-- Outbreak response (see src/outbreaks.rs): contacts (F1) of cases with their follow-up,
-- clusters (ổ dịch) whose cases carry `cases.cluster_id`, sampling sessions with single and
-- pooled samples and the laboratory queue, health declarations of people entering through
-- border gates and the daily count of entrants per gate.
--
-- Every row is counted in the units of both hierarchies (CaseUnits: 2025 province and commune,
-- pre-2025 commune, district and province); lists by scope filter on province_code,
-- commune_code or old_commune_code. Enumerations are stored by their snake_case code. As in
-- 0001, ids alone are the primary keys here (PostgreSQL puts province_code first).

-- A contact (F1) of a case. case_id / became_case_id: cases (id); person_id: the register
-- person when identified.
CREATE TABLE case_contacts (
    id                TEXT NOT NULL PRIMARY KEY,
    province_code     TEXT NOT NULL,
    case_id           TEXT NOT NULL,
    commune_code      TEXT NOT NULL,
    old_commune_code  TEXT,
    old_district_code TEXT,
    old_province_code TEXT,
    person_id         TEXT REFERENCES persons (id),
    full_name         TEXT NOT NULL,
    phone             TEXT NOT NULL,
    national_id       TEXT NOT NULL,
    relation          TEXT NOT NULL,
    last_exposure     TEXT NOT NULL,
    quarantine_until  TEXT,
    quarantine_place  TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('monitoring', 'released', 'became_case', 'lost')),
    became_case_id    TEXT,
    note              TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX case_contacts_case ON case_contacts (case_id, created_at, id);
CREATE INDEX case_contacts_person ON case_contacts (person_id) WHERE person_id IS NOT NULL;
-- Scope lists, optionally in one status, newest exposure first.
CREATE INDEX case_contacts_province ON case_contacts (province_code, status, last_exposure, id);
CREATE INDEX case_contacts_commune ON case_contacts (commune_code, status, last_exposure, id);
CREATE INDEX case_contacts_old_commune ON case_contacts (old_commune_code, status, last_exposure, id);

-- A cluster. last_case_on / ends_on move as cases join (assign_cases_to_cluster).
CREATE TABLE clusters (
    id                 TEXT NOT NULL PRIMARY KEY,
    province_code      TEXT NOT NULL,
    commune_code       TEXT NOT NULL,
    old_commune_code   TEXT,
    old_district_code  TEXT,
    old_province_code  TEXT,
    name               TEXT NOT NULL,
    place              TEXT NOT NULL,
    opened_on          TEXT NOT NULL,
    last_case_on       TEXT,
    ends_on            TEXT,
    closed             INTEGER NOT NULL CHECK (closed IN (0, 1)),
    zoning             TEXT NOT NULL CHECK (zoning IN ('none', 'zoned', 'lifted')),
    unusual            INTEGER NOT NULL CHECK (unusual IN (0, 1)),
    unusual_reason     TEXT NOT NULL,
    sequencing         TEXT NOT NULL
                       CHECK (sequencing IN ('not_needed', 'to_sample', 'referred', 'resulted')),
    sample_referred_on TEXT,
    sequencing_lab     TEXT NOT NULL,
    variant            TEXT NOT NULL,
    variant_result_on  TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
-- Scope lists, open ones first in the key (closed ones only when asked), newest first.
CREATE INDEX clusters_province ON clusters (province_code, closed, opened_on, id);
CREATE INDEX clusters_commune ON clusters (commune_code, closed, opened_on, id);
CREATE INDEX clusters_old_commune ON clusters (old_commune_code, closed, opened_on, id);

-- A sample collection session; its samples go to lab_code.
CREATE TABLE sample_sessions (
    id                TEXT NOT NULL PRIMARY KEY,
    province_code     TEXT NOT NULL,
    commune_code      TEXT NOT NULL,
    old_commune_code  TEXT,
    old_district_code TEXT,
    old_province_code TEXT,
    place             TEXT NOT NULL,
    held_on           TEXT NOT NULL,
    lab_code          TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL
);
CREATE INDEX sample_sessions_province ON sample_sessions (province_code, held_on, id);
CREATE INDEX sample_sessions_commune ON sample_sessions (commune_code, held_on, id);
CREATE INDEX sample_sessions_old_commune ON sample_sessions (old_commune_code, held_on, id);

-- A sample: single, or pooled from several persons (members: JSON array of SampleMember). A
-- break-down single sample of a positive pool points back with pool_id.
CREATE TABLE samples (
    id            TEXT NOT NULL PRIMARY KEY,
    province_code TEXT NOT NULL,
    session_id    TEXT NOT NULL REFERENCES sample_sessions (id),
    code          TEXT NOT NULL,
    members       TEXT NOT NULL,
    pool_id       TEXT,
    lab_code      TEXT NOT NULL,
    collected_at  TEXT NOT NULL,
    received_at   TEXT,
    resulted_at   TEXT,
    result        TEXT CHECK (result IN ('positive', 'negative', 'inconclusive')),
    status        TEXT NOT NULL CHECK (status IN ('collected', 'received', 'resulted'))
);
CREATE INDEX samples_session ON samples (session_id, collected_at, code, id);
CREATE INDEX samples_pool ON samples (pool_id) WHERE pool_id IS NOT NULL;
-- The lab queue (status 'received') and a lab's resulted samples, by collection time.
CREATE INDEX samples_lab ON samples (lab_code, status, collected_at, id);
-- Resulted samples of every lab (turnaround statistics without a lab).
CREATE INDEX samples_resulted ON samples (collected_at, id) WHERE status = 'resulted';

-- A health declaration at a border gate; the units are the destination.
CREATE TABLE entry_declarations (
    id                TEXT NOT NULL PRIMARY KEY,
    province_code     TEXT NOT NULL,
    commune_code      TEXT NOT NULL,
    old_commune_code  TEXT,
    old_district_code TEXT,
    old_province_code TEXT,
    full_name         TEXT NOT NULL,
    document_number   TEXT NOT NULL,
    phone             TEXT NOT NULL,
    gate_code         TEXT NOT NULL,
    entered_on        TEXT NOT NULL,
    from_area         TEXT NOT NULL,
    variant_area      INTEGER NOT NULL CHECK (variant_area IN (0, 1)),
    followup_until    TEXT NOT NULL,
    status            TEXT NOT NULL,
    case_id           TEXT,
    created_at        TEXT NOT NULL
);
CREATE INDEX entry_declarations_entered ON entry_declarations (entered_on, id);
CREATE INDEX entry_declarations_province ON entry_declarations (province_code, entered_on, id);
CREATE INDEX entry_declarations_commune ON entry_declarations (commune_code, entered_on, id);
CREATE INDEX entry_declarations_old_commune ON entry_declarations (old_commune_code, entered_on, id);

-- Entrants counted at a gate on a day (declared or not), replaced when counted again.
CREATE TABLE border_counts (
    gate_code          TEXT NOT NULL,
    day                TEXT NOT NULL,
    province_code      TEXT NOT NULL,
    entrants           INTEGER NOT NULL CHECK (entrants >= 0),
    from_variant_areas INTEGER NOT NULL CHECK (from_variant_areas >= 0),
    PRIMARY KEY (gate_code, day)
) WITHOUT ROWID;
CREATE INDEX border_counts_province ON border_counts (province_code, day, gate_code);
CREATE INDEX border_counts_day ON border_counts (day, gate_code);
