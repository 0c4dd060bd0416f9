//! Administrative units of Vietnam in both hierarchies, embedded in the binary.
//!
//! - [`UnitVersion::Pre2025`]: 63 provinces → 696 districts → 10,040 communes, valid until 30/6/2025.
//! - [`UnitVersion::V2025`]: 34 provinces → 3,321 communes (no district tier), valid from 1/7/2025
//!   (Resolution 202/2025/QH15).
//!
//! Codes follow the National Statistics Office list: province 2 digits, district 3, commune 5, so a
//! code's length gives its level. Old communes map to new ones ([`AdminUnits::new_communes_for_old`]).
//! Source files and provenance: `crates/domain/data/README.md`.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::Error;

const UNITS_2025_CSV: &str = include_str!("../data/units-2025.csv");
const UNITS_PRE2025_CSV: &str = include_str!("../data/units-pre2025.csv");
const COMMUNE_MAP_CSV: &str = include_str!("../data/commune-map-pre2025-to-2025.csv");

/// Which hierarchy a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UnitVersion {
    #[serde(rename = "2025")]
    V2025,
    #[serde(rename = "pre2025")]
    Pre2025,
}

impl UnitVersion {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "2025" => Ok(UnitVersion::V2025),
            "pre2025" => Ok(UnitVersion::Pre2025),
            _ => Err(Error::invalid(
                "version",
                format!("Phiên bản danh mục không hợp lệ: «{raw}» (2025 hoặc pre2025)"),
                format!("Invalid unit list version: «{raw}» (2025 or pre2025)"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UnitVersion::V2025 => "2025",
            UnitVersion::Pre2025 => "pre2025",
        }
    }

    /// First day the hierarchy is in force (`None` = since before the system's data).
    pub fn valid_from(self) -> Option<NaiveDate> {
        match self {
            UnitVersion::V2025 => NaiveDate::from_ymd_opt(2025, 7, 1),
            UnitVersion::Pre2025 => None,
        }
    }

    /// Last day the hierarchy is in force (`None` = still in force).
    pub fn valid_until(self) -> Option<NaiveDate> {
        match self {
            UnitVersion::V2025 => None,
            UnitVersion::Pre2025 => NaiveDate::from_ymd_opt(2025, 6, 30),
        }
    }

    /// The hierarchy in force on a date.
    pub fn in_force_on(date: NaiveDate) -> Self {
        match UnitVersion::V2025.valid_from() {
            Some(from) if date >= from => UnitVersion::V2025,
            _ => UnitVersion::Pre2025,
        }
    }
}

/// Tier of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitLevel {
    Province,
    District,
    Commune,
}

impl UnitLevel {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "province" => Ok(UnitLevel::Province),
            "district" => Ok(UnitLevel::District),
            "commune" => Ok(UnitLevel::Commune),
            _ => Err(Error::invalid(
                "level",
                format!("Cấp đơn vị không hợp lệ: «{raw}» (province, district hoặc commune)"),
                format!("Invalid unit level: «{raw}» (province, district or commune)"),
            )),
        }
    }

    /// The level a code denotes by its length (2 province, 3 district, 5 commune).
    pub fn of_code(code: &str) -> Option<Self> {
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match code.len() {
            2 => Some(UnitLevel::Province),
            3 => Some(UnitLevel::District),
            5 => Some(UnitLevel::Commune),
            _ => None,
        }
    }
}

/// One administrative unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unit {
    pub code: String,
    /// Full official name ("Tỉnh Lai Châu", "Xã Bản Lang").
    pub name: String,
    pub level: UnitLevel,
    pub parent_code: Option<String>,
    /// Unit type as officially named ("Tỉnh", "Thành phố", "Huyện", "Phường", "Xã", "Đặc khu"…).
    #[serde(skip)]
    pub kind: String,
    /// Approximate centre (communes: from the source; higher levels: mean of their communes).
    #[serde(skip)]
    pub lat: Option<f64>,
    #[serde(skip)]
    pub lon: Option<f64>,
}

/// One hierarchy (2025 or pre-2025) with lookups by code and by parent.
#[derive(Debug)]
pub struct Hierarchy {
    pub version: UnitVersion,
    units: Vec<Unit>,
    by_code: HashMap<String, usize>,
    children: HashMap<String, Vec<usize>>,
    provinces: Vec<usize>,
}

impl Hierarchy {
    fn build(version: UnitVersion, units: Vec<Unit>) -> Self {
        let mut by_code = HashMap::with_capacity(units.len());
        let mut children: HashMap<String, Vec<usize>> = HashMap::new();
        let mut provinces = Vec::new();
        for (i, u) in units.iter().enumerate() {
            by_code.insert(u.code.clone(), i);
            match &u.parent_code {
                Some(p) => children.entry(p.clone()).or_default().push(i),
                None => provinces.push(i),
            }
        }
        let mut h = Hierarchy {
            version,
            units,
            by_code,
            children,
            provinces,
        };
        h.fill_centres();
        h
    }

    /// Gives provinces and districts the mean position of their communes.
    fn fill_centres(&mut self) {
        for i in 0..self.units.len() {
            if self.units[i].level == UnitLevel::Commune {
                continue;
            }
            let code = self.units[i].code.clone();
            let pts: Vec<(f64, f64)> = self
                .communes_under(&code)
                .iter()
                .filter_map(|c| {
                    let u = self.get(c)?;
                    Some((u.lat?, u.lon?))
                })
                .collect();
            if !pts.is_empty() {
                let n = pts.len() as f64;
                self.units[i].lat = Some(pts.iter().map(|p| p.0).sum::<f64>() / n);
                self.units[i].lon = Some(pts.iter().map(|p| p.1).sum::<f64>() / n);
            }
        }
    }

    pub fn get(&self, code: &str) -> Option<&Unit> {
        self.by_code.get(code).map(|&i| &self.units[i])
    }

    /// Looks a code up, with a clear error when it does not exist in this hierarchy.
    pub fn require(&self, code: &str) -> Result<&Unit, Error> {
        self.get(code).ok_or_else(|| {
            Error::not_found(
                &format!(
                    "đơn vị hành chính mã «{code}» (danh mục {})",
                    self.version.as_str()
                ),
                &format!(
                    "Administrative unit «{code}» ({} list)",
                    self.version.as_str()
                ),
            )
            .with_details(serde_json::json!({ "field": "unit", "code": code }))
        })
    }

    pub fn provinces(&self) -> impl Iterator<Item = &Unit> {
        self.provinces.iter().map(|&i| &self.units[i])
    }

    /// Direct children of a unit, in source order.
    pub fn children(&self, code: &str) -> impl Iterator<Item = &Unit> {
        self.children
            .get(code)
            .into_iter()
            .flatten()
            .map(|&i| &self.units[i])
    }

    /// Units of one level, optionally restricted to the descendants of `parent`.
    pub fn list(&self, level: UnitLevel, parent: Option<&str>) -> Result<Vec<&Unit>, Error> {
        if self.version == UnitVersion::V2025 && level == UnitLevel::District {
            return Err(Error::invalid(
                "level",
                "Danh mục 2025 không có cấp huyện",
                "The 2025 list has no district level",
            ));
        }
        match parent {
            None => Ok(self.units.iter().filter(|u| u.level == level).collect()),
            Some(p) => {
                self.require(p)?;
                let mut out = Vec::new();
                let mut stack = vec![p];
                while let Some(code) = stack.pop() {
                    for c in self.children(code) {
                        if c.level == level {
                            out.push(c);
                        } else {
                            stack.push(&c.code);
                        }
                    }
                }
                out.sort_by(|a, b| a.code.cmp(&b.code));
                Ok(out)
            }
        }
    }

    /// All commune codes at or below `code` (a commune gives itself).
    pub fn communes_under(&self, code: &str) -> Vec<String> {
        let Some(u) = self.get(code) else {
            return Vec::new();
        };
        if u.level == UnitLevel::Commune {
            return vec![u.code.clone()];
        }
        let mut out = Vec::new();
        for c in self.children(code) {
            out.extend(self.communes_under(&c.code));
        }
        out
    }

    /// The province a unit belongs to (a province gives itself).
    pub fn province_of(&self, code: &str) -> Option<&Unit> {
        let mut u = self.get(code)?;
        while let Some(p) = &u.parent_code {
            u = self.get(p)?;
        }
        Some(u)
    }

    /// The units above `code`, province first (empty for a province or an unknown code).
    pub fn ancestors(&self, code: &str) -> Vec<&Unit> {
        let mut chain = Vec::new();
        let mut parent = self.get(code).and_then(|u| u.parent_code.as_deref());
        while let Some(u) = parent.and_then(|p| self.get(p)) {
            chain.push(u);
            parent = u.parent_code.as_deref();
        }
        chain.reverse();
        chain
    }

    /// Whether `code` is `ancestor` or lies below it.
    pub fn is_within(&self, code: &str, ancestor: &str) -> bool {
        let mut cur = self.get(code);
        while let Some(u) = cur {
            if u.code == ancestor {
                return true;
            }
            cur = u.parent_code.as_deref().and_then(|p| self.get(p));
        }
        false
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    pub fn count(&self, level: UnitLevel) -> usize {
        self.units.iter().filter(|u| u.level == level).count()
    }
}

/// Both hierarchies and the old→new commune mapping.
#[derive(Debug)]
pub struct AdminUnits {
    pub v2025: Hierarchy,
    pub pre2025: Hierarchy,
    old_to_new: HashMap<String, Vec<(String, bool)>>,
    new_to_old: HashMap<String, Vec<String>>,
}

fn kind_of(name: &str) -> String {
    for k in [
        "Thành phố",
        "Tỉnh",
        "Thị xã",
        "Thị trấn",
        "Quận",
        "Huyện",
        "Phường",
        "Xã",
    ] {
        if name.starts_with(k) {
            return k.to_string();
        }
    }
    name.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn parse_coord(s: &str) -> Option<f64> {
    s.trim().parse().ok()
}

impl AdminUnits {
    /// The embedded unit lists, parsed once per process.
    pub fn embedded() -> &'static AdminUnits {
        static UNITS: OnceLock<AdminUnits> = OnceLock::new();
        UNITS.get_or_init(|| {
            AdminUnits::parse(UNITS_2025_CSV, UNITS_PRE2025_CSV, COMMUNE_MAP_CSV)
                .expect("embedded administrative unit files are valid (checked by tests)")
        })
    }

    /// Parses the three CSV files (see `data/README.md` for their columns).
    pub fn parse(units_2025: &str, units_pre2025: &str, commune_map: &str) -> Result<Self, String> {
        let mut v2025 = Vec::new();
        let mut seen_prov = std::collections::HashSet::new();
        for rec in csv::Reader::from_reader(units_2025.as_bytes()).records() {
            let r = rec.map_err(|e| e.to_string())?;
            let (pc, pn, cc, cn, ct) = (&r[0], &r[1], &r[2], &r[3], &r[4]);
            if seen_prov.insert(pc.to_string()) {
                v2025.push(Unit {
                    code: pc.into(),
                    name: pn.into(),
                    level: UnitLevel::Province,
                    parent_code: None,
                    kind: kind_of(pn),
                    lat: None,
                    lon: None,
                });
            }
            v2025.push(Unit {
                code: cc.into(),
                name: cn.into(),
                level: UnitLevel::Commune,
                parent_code: Some(pc.into()),
                kind: ct.into(),
                lat: parse_coord(&r[5]),
                lon: parse_coord(&r[6]),
            });
        }
        let mut pre = Vec::new();
        let mut seen_prov = std::collections::HashSet::new();
        let mut seen_dist = std::collections::HashSet::new();
        for rec in csv::Reader::from_reader(units_pre2025.as_bytes()).records() {
            let r = rec.map_err(|e| e.to_string())?;
            let (pc, pn, dc, dn, cc, cn, ct) = (&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]);
            if seen_prov.insert(pc.to_string()) {
                pre.push(Unit {
                    code: pc.into(),
                    name: pn.into(),
                    level: UnitLevel::Province,
                    parent_code: None,
                    kind: kind_of(pn),
                    lat: None,
                    lon: None,
                });
            }
            if seen_dist.insert(dc.to_string()) {
                pre.push(Unit {
                    code: dc.into(),
                    name: dn.into(),
                    level: UnitLevel::District,
                    parent_code: Some(pc.into()),
                    kind: kind_of(dn),
                    lat: None,
                    lon: None,
                });
            }
            pre.push(Unit {
                code: cc.into(),
                name: cn.into(),
                level: UnitLevel::Commune,
                parent_code: Some(dc.into()),
                kind: ct.into(),
                lat: parse_coord(&r[7]),
                lon: parse_coord(&r[8]),
            });
        }
        let mut old_to_new: HashMap<String, Vec<(String, bool)>> = HashMap::new();
        let mut new_to_old: HashMap<String, Vec<String>> = HashMap::new();
        for rec in csv::Reader::from_reader(commune_map.as_bytes()).records() {
            let r = rec.map_err(|e| e.to_string())?;
            let (old, new, default) = (&r[0], &r[1], &r[2] == "1");
            old_to_new
                .entry(old.into())
                .or_default()
                .push((new.into(), default));
            new_to_old.entry(new.into()).or_default().push(old.into());
        }
        Ok(AdminUnits {
            v2025: Hierarchy::build(UnitVersion::V2025, v2025),
            pre2025: Hierarchy::build(UnitVersion::Pre2025, pre),
            old_to_new,
            new_to_old,
        })
    }

    pub fn hierarchy(&self, version: UnitVersion) -> &Hierarchy {
        match version {
            UnitVersion::V2025 => &self.v2025,
            UnitVersion::Pre2025 => &self.pre2025,
        }
    }

    /// New communes an old commune went into, with `true` on the part holding most of it.
    pub fn new_communes_for_old(&self, old: &str) -> &[(String, bool)] {
        self.old_to_new.get(old).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The new commune holding most of an old commune.
    pub fn default_new_commune(&self, old: &str) -> Option<&str> {
        let parts = self.new_communes_for_old(old);
        parts
            .iter()
            .find(|(_, d)| *d)
            .or(parts.first())
            .map(|(c, _)| c.as_str())
    }

    /// Old communes (wholly or partly) inside a new commune.
    pub fn old_communes_for_new(&self, new: &str) -> &[String] {
        self.new_to_old.get(new).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_counts_match_the_official_lists() {
        let u = AdminUnits::embedded();
        assert_eq!(u.pre2025.count(UnitLevel::Province), 63);
        assert_eq!(u.pre2025.count(UnitLevel::District), 696);
        assert_eq!(u.pre2025.count(UnitLevel::Commune), 10_040);
        assert_eq!(u.v2025.count(UnitLevel::Province), 34);
        assert_eq!(u.v2025.count(UnitLevel::District), 0);
        assert_eq!(u.v2025.count(UnitLevel::Commune), 3_321);
    }

    #[test]
    fn hierarchy_lookups() {
        let u = AdminUnits::embedded();
        let lai_chau = u.v2025.get("12").unwrap();
        assert_eq!(lai_chau.name, "Tỉnh Lai Châu");
        assert!(lai_chau.lat.is_some());
        let communes = u.v2025.list(UnitLevel::Commune, Some("12")).unwrap();
        assert!(!communes.is_empty());
        for c in &communes {
            assert_eq!(u.v2025.province_of(&c.code).unwrap().code, "12");
            assert!(u.v2025.is_within(&c.code, "12"));
        }
        assert!(u.v2025.list(UnitLevel::District, None).is_err());
        let ancestors = |code: &str| -> Vec<&str> {
            u.pre2025
                .ancestors(code)
                .iter()
                .map(|a| a.code.as_str())
                .collect()
        };
        let hn_commune = &u.pre2025.list(UnitLevel::Commune, Some("01")).unwrap()[0];
        let district = hn_commune.parent_code.clone().unwrap();
        assert_eq!(ancestors(&hn_commune.code), vec!["01", district.as_str()]);
        assert_eq!(ancestors(&district), vec!["01"]);
        assert!(ancestors("01").is_empty() && ancestors("99999").is_empty());
        let ba_dinh = u.pre2025.get("001").unwrap();
        assert_eq!(ba_dinh.level, UnitLevel::District);
        assert_eq!(ba_dinh.parent_code.as_deref(), Some("01"));
        let hn_communes = u.pre2025.list(UnitLevel::Commune, Some("01")).unwrap();
        assert_eq!(hn_communes.len(), u.pre2025.communes_under("01").len());
        assert!(u.pre2025.require("99999").is_err());
    }

    #[test]
    fn old_to_new_mapping() {
        let u = AdminUnits::embedded();
        // Phường Phúc Xá (00001) went into Phường Hồng Hà (00097).
        assert_eq!(u.default_new_commune("00001"), Some("00097"));
        assert!(
            u.old_communes_for_new("00097")
                .contains(&"00001".to_string())
        );
        // Every mapped new code exists in the 2025 list.
        for old in u.pre2025.communes_under("01") {
            for (new, _) in u.new_communes_for_old(&old) {
                assert!(u.v2025.get(new).is_some(), "{old} -> {new}");
            }
        }
    }

    #[test]
    fn versions_and_validity() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(
            UnitVersion::in_force_on(d(2025, 6, 30)),
            UnitVersion::Pre2025
        );
        assert_eq!(UnitVersion::in_force_on(d(2025, 7, 1)), UnitVersion::V2025);
        assert_eq!(UnitVersion::parse("pre2025").unwrap(), UnitVersion::Pre2025);
        assert!(UnitVersion::parse("2024").is_err());
        assert_eq!(UnitLevel::of_code("00097"), Some(UnitLevel::Commune));
        assert_eq!(UnitLevel::of_code("1a"), None);
    }
}
