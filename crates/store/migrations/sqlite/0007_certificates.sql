-- Vaccination certificates (EU DCC / HCERT, Decision 5772/QĐ-BYT): the signing hierarchy with
-- private keys encrypted at rest, the trust list (own and imported signer certificates), issued
-- certificates with their approval steps, and revocations by certificate id (UVCI).

-- A CSCA (country signing CA) or a document signer (DSC). kid: base64 of the first 8 bytes of
-- SHA-256 over the certificate DER. private_key: PKCS#8 DER sealed with AES-256-GCM under a key
-- derived (Argon2id) from the configured passphrase — never stored in clear.
CREATE TABLE cert_signing_keys (
    kid          TEXT NOT NULL PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('csca', 'dsc')),
    certificate  BLOB NOT NULL,
    private_key  BLOB NOT NULL,
    issuer_kid   TEXT REFERENCES cert_signing_keys (kid),
    not_before   TEXT NOT NULL,
    not_after    TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    -- Set when a newer key of the same role took over; the certificate stays trusted.
    retired_at   TEXT
);
CREATE UNIQUE INDEX cert_signing_keys_current ON cert_signing_keys (role) WHERE retired_at IS NULL;

-- Signer certificates a verifier trusts: our own DSCs and imported foreign trust lists.
CREATE TABLE cert_trust_list (
    kid          TEXT NOT NULL,
    country      TEXT NOT NULL,
    certificate  BLOB NOT NULL,
    source       TEXT NOT NULL,
    added_at     TEXT NOT NULL,
    PRIMARY KEY (kid, certificate)
);

-- One certificate per issue; a booster issues a new one and supersedes the previous.
CREATE TABLE vaccination_certificates (
    province_code TEXT NOT NULL,
    id            TEXT NOT NULL,
    uvci          TEXT NOT NULL,
    person_id     TEXT NOT NULL REFERENCES persons (id),
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'issued', 'superseded')),
    payload       TEXT NOT NULL,
    hc1           TEXT,
    kid           TEXT REFERENCES cert_signing_keys (kid),
    issued_at     TEXT,
    expires_at    TEXT,
    requested_by  TEXT NOT NULL,
    approved_by   TEXT,
    approved_at   TEXT,
    signed_by     TEXT,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (province_code, id)
);
CREATE UNIQUE INDEX vaccination_certificates_id ON vaccination_certificates (id);
CREATE UNIQUE INDEX vaccination_certificates_uvci ON vaccination_certificates (uvci);
CREATE INDEX vaccination_certificates_person ON vaccination_certificates (person_id, created_at);
CREATE INDEX vaccination_certificates_pending ON vaccination_certificates (status, created_at)
    WHERE status IN ('pending', 'approved');

CREATE TABLE cert_revocations (
    uvci        TEXT NOT NULL PRIMARY KEY,
    reason      TEXT NOT NULL,
    revoked_by  TEXT NOT NULL,
    revoked_at  TEXT NOT NULL
);
