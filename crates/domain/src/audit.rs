//! The audit log's hash chain. Each entry stores the SHA-256 of the previous entry's hash and its
//! own fields, so editing or deleting any entry breaks the chain from that point on
//! ([`verify_chain`]). The store appends entries; this module only computes and checks hashes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What is being recorded (before the store gives it a sequence number and hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    pub at: DateTime<Utc>,
    /// User id of the actor (`None` for anonymous, e.g. a failed login, or the system).
    pub actor_id: Option<uuid::Uuid>,
    /// User name of the actor, as typed for failed logins.
    pub actor: Option<String>,
    /// Dotted action name: `auth.login`, `auth.login_failed`, `person.view`, `user.create`, …
    pub action: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// Unit concerned, if any.
    pub unit_code: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Extra facts as a JSON object (never secrets).
    pub details: serde_json::Value,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: NewAuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an entry: SHA-256 over the previous hash and a canonical JSON of the fields.
pub fn entry_hash(seq: i64, prev_hash: &str, e: &NewAuditEntry) -> String {
    let canonical = serde_json::json!([
        seq,
        prev_hash,
        e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        e.actor_id.map(|u| u.to_string()),
        e.actor,
        e.action,
        e.entity_type,
        e.entity_id,
        e.unit_code,
        e.ip,
        e.details,
    ]);
    let mut h = Sha256::new();
    h.update(canonical.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// Where and why a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// Sequence number of the first bad entry (or where one is missing).
    pub seq: i64,
    pub reason: String,
}

/// Checks a whole chain in sequence order, and that it ends at the recorded head
/// (`(last seq, last hash)`), which catches deletion of the newest entries.
pub fn verify_chain(entries: &[AuditEntry], head: Option<(i64, &str)>) -> Result<(), ChainBreak> {
    let mut prev = GENESIS_HASH.to_string();
    let mut expected_seq = 1;
    for e in entries {
        if e.seq != expected_seq {
            return Err(ChainBreak {
                seq: expected_seq,
                reason: format!("entry {expected_seq} is missing (next is {})", e.seq),
            });
        }
        if e.prev_hash != prev {
            return Err(ChainBreak {
                seq: e.seq,
                reason: "prev_hash does not match the previous entry".into(),
            });
        }
        if entry_hash(e.seq, &e.prev_hash, &e.entry) != e.hash {
            return Err(ChainBreak {
                seq: e.seq,
                reason: "contents do not match the stored hash (edited)".into(),
            });
        }
        prev = e.hash.clone();
        expected_seq += 1;
    }
    let last_seq = expected_seq - 1;
    match head {
        None if last_seq == 0 => Ok(()),
        None => Err(ChainBreak {
            seq: 1,
            reason: "chain head record is missing".into(),
        }),
        Some((seq, hash)) if seq == last_seq && hash == prev => Ok(()),
        Some((seq, _)) if seq > last_seq => Err(ChainBreak {
            seq: last_seq + 1,
            reason: format!("entries {} to {seq} were deleted", last_seq + 1),
        }),
        Some((seq, _)) => Err(ChainBreak {
            seq,
            reason: "chain head does not match the last entry".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let entry = NewAuditEntry {
                    at: DateTime::from_timestamp(1_700_000_000 + seq, 0).unwrap(),
                    actor_id: None,
                    actor: Some("admin".into()),
                    action: "person.view".into(),
                    entity_type: Some("person".into()),
                    entity_id: Some(format!("p{seq}")),
                    unit_code: None,
                    ip: Some("127.0.0.1".into()),
                    details: serde_json::json!({}),
                };
                let hash = entry_hash(seq, &prev, &entry);
                let e = AuditEntry {
                    seq,
                    entry,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        let head = (5, c[4].hash.as_str());
        assert_eq!(verify_chain(&c, Some(head)), Ok(()));
        assert_eq!(verify_chain(&[], None), Ok(()));
    }

    #[test]
    fn edits_and_deletions_are_found() {
        let c = chain(5);
        let head = (5, c[4].hash.clone());
        let mut edited = c.clone();
        edited[2].entry.actor = Some("someone else".into());
        assert_eq!(
            verify_chain(&edited, Some((5, &head.1))).unwrap_err().seq,
            3
        );
        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(
            verify_chain(&deleted, Some((5, &head.1))).unwrap_err().seq,
            2
        );
        let truncated = &c[..4];
        assert_eq!(
            verify_chain(truncated, Some((5, &head.1))).unwrap_err().seq,
            5
        );
        // Rewriting an entry and its hash still breaks the next link.
        let mut rehashed = c.clone();
        rehashed[1].entry.action = "x".into();
        rehashed[1].hash = entry_hash(2, &rehashed[1].prev_hash, &rehashed[1].entry);
        assert_eq!(
            verify_chain(&rehashed, Some((5, &head.1))).unwrap_err().seq,
            3
        );
    }
}
