//! Vocabulary of case surveillance shared by every layer: test types and results, case
//! classification, detection source, severity, care setting, outcome, case status and alert
//! urgency. Each has a stable stored/serialised code (`as_str`, `parse`) and a Vietnamese label.
//! The rules that use them live in [`crate::home_care`] and [`crate::case_rules`].

use serde::{Deserialize, Serialize};

use crate::Error;

macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $field:literal, $what_vi:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $code:literal, $vi:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $code)] $variant, )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialised code.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Vietnamese label for pages and exports.
            pub fn label_vi(self) -> &'static str {
                match self { $($name::$variant => $vi),+ }
            }

            /// Parses the code (case and surrounding spaces ignored).
            pub fn parse(raw: &str) -> Result<Self, Error> {
                let t = raw.trim().to_lowercase();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == t)
                    .ok_or_else(|| {
                        let codes: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                        Error::invalid(
                            $field,
                            format!(
                                "{} «{}» không hợp lệ (chọn một trong: {})",
                                $what_vi,
                                raw.trim(),
                                codes.join(", ")
                            ),
                            format!(
                                "invalid {} «{}» (one of: {})",
                                $field,
                                raw.trim(),
                                codes.join(", ")
                            ),
                        )
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

coded_enum! {
    /// Kind of laboratory test.
    TestType, "test_type", "Loại xét nghiệm" {
        RtPcr => "rt-pcr", "RT-PCR";
        RapidAntigen => "rapid-antigen", "Test nhanh kháng nguyên";
        Antibody => "antibody", "Xét nghiệm kháng thể";
    }
}

coded_enum! {
    /// Result of a test.
    TestResult, "result", "Kết quả" {
        Positive => "positive", "Dương tính";
        Negative => "negative", "Âm tính";
        Inconclusive => "inconclusive", "Không xác định";
    }
}

coded_enum! {
    /// How sure the case is.
    Classification, "classification", "Phân loại ca bệnh" {
        /// Confirmed by RT-PCR or rapid antigen test.
        Confirmed => "confirmed", "Ca bệnh xác định";
        /// Clinical and epidemiological picture without a confirming test.
        Probable => "probable", "Ca bệnh có thể";
        /// Ruled out after investigation (kept, not counted).
        Discarded => "discarded", "Loại trừ";
    }
}

coded_enum! {
    /// Where the case was found.
    DetectionSource, "detection_source", "Nguồn phát hiện" {
        Community => "community", "Cộng đồng";
        Imported => "imported", "Nhập cảnh";
        Quarantine => "quarantine", "Trong khu cách ly";
    }
}

coded_enum! {
    /// Clinical severity (ordered: mildest first).
    Severity, "severity", "Mức độ" {
        Asymptomatic => "asymptomatic", "Không triệu chứng";
        Mild => "mild", "Nhẹ";
        Moderate => "moderate", "Trung bình";
        Severe => "severe", "Nặng";
        Critical => "critical", "Nguy kịch";
    }
}

coded_enum! {
    /// Where the case is cared for (the three-tier treatment model).
    CareSetting, "care_setting", "Nơi điều trị" {
        Home => "home", "Tại nhà";
        Tier1 => "tier1", "Tầng 1";
        Tier2 => "tier2", "Tầng 2";
        Tier3 => "tier3", "Tầng 3";
    }
}

coded_enum! {
    /// How a case ended.
    Outcome, "outcome", "Kết cục" {
        Recovered => "recovered", "Khỏi bệnh";
        Died => "died", "Tử vong";
        TransferredOut => "transferred_out", "Chuyển đi nơi khác";
    }
}

coded_enum! {
    /// Whether a case is still followed.
    CaseStatus, "status", "Trạng thái" {
        Open => "open", "Đang theo dõi";
        Closed => "closed", "Đã kết thúc";
    }
}

coded_enum! {
    /// Urgency of a case in the commune station's alert queue (ordered: least urgent first).
    AlertLevel, "alert", "Mức cảnh báo" {
        /// Nothing to act on.
        None => "none", "Không";
        /// No check-in for longer than the rules allow.
        Overdue => "overdue", "Quá hạn theo dõi";
        /// A warning sign: contact the case, consider transfer.
        Warning => "warning", "Dấu hiệu cảnh báo";
        /// Severe or critical signs: transfer now.
        Emergency => "emergency", "Cấp cứu";
    }
}

impl Severity {
    /// Severe or critical.
    pub fn is_severe(self) -> bool {
        self >= Severity::Severe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_bad_codes_say_what_is_allowed() {
        for t in TestType::ALL {
            assert_eq!(TestType::parse(t.as_str()).unwrap(), *t);
        }
        assert_eq!(TestType::parse(" RT-PCR ").unwrap(), TestType::RtPcr);
        let e = TestResult::parse("pos").unwrap_err();
        assert_eq!(e.details["field"], "result");
        assert!(e.message_vi.contains("positive, negative, inconclusive"));
        assert_eq!(
            serde_json::to_string(&CareSetting::Tier2).unwrap(),
            "\"tier2\""
        );
        assert!(Severity::Critical > Severity::Moderate);
        assert!(AlertLevel::Emergency > AlertLevel::Overdue);
        assert!(Severity::Severe.is_severe() && !Severity::Moderate.is_severe());
    }
}
