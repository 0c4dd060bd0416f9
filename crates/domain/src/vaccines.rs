//! COVID-19 vaccine catalogue: products with their EU DCC codes (medicinal product `mp`,
//! marketing-authorisation holder `ma`, prophylaxis `vp`) from the embedded eHealth Network value
//! sets (`data/dcc-valuesets`, Apache-2.0), and the names Vietnamese sites write for them
//! (`data/vaccine-aliases.csv`: AstraZeneca, Pfizer, Moderna, Vero Cell, Sputnik V, Janssen,
//! Abdala, Hayat-Vax, Covaxin, …). [`VaccineCatalogue::resolve`] accepts a DCC code or an alias,
//! ignoring case, spacing, punctuation and diacritics.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

const MEDICINAL_PRODUCTS: &str =
    include_str!("../data/dcc-valuesets/vaccine-medicinal-product.json");
const MANUFACTURERS: &str = include_str!("../data/dcc-valuesets/vaccine-mah-manf.json");
const PROPHYLAXIS: &str = include_str!("../data/dcc-valuesets/vaccine-prophylaxis.json");
const ENCODING: &str = include_str!("../data/dcc-valuesets/vaccine-encoding-instructions.json");
const ALIASES: &str = include_str!("../data/vaccine-aliases.csv");

/// The generic SNOMED CT code "COVID-19 vaccine", used for `vp` only when no more specific code
/// is listed for a product.
const GENERIC_VP: &str = "28531000087107";

/// One vaccine product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaccineProduct {
    /// DCC `mp` code, e.g. `EU/1/20/1528`.
    pub code: String,
    /// Display name from the value set, e.g. `Comirnaty`.
    pub name: String,
    /// DCC `ma` code and its display name.
    pub manufacturer_code: String,
    pub manufacturer: String,
    /// DCC `vp` code (the most specific one the encoding instructions list) and its name.
    pub prophylaxis_code: String,
    pub prophylaxis: String,
    /// Whether the value set still marks the product active.
    pub active: bool,
    /// Names written at Vietnamese sites.
    pub aliases: Vec<String>,
}

/// All products and their aliases.
#[derive(Debug)]
pub struct VaccineCatalogue {
    products: Vec<VaccineProduct>,
    /// Folded code or alias → index in `products`.
    lookup: HashMap<String, usize>,
}

/// Case, spacing, punctuation and diacritics ignored: "Vero-Cell" = "vero cell" = "VEROCELL".
fn key(s: &str) -> String {
    crate::name::fold(s)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

fn value_set(json: &str) -> Vec<(String, String, bool)> {
    let v: serde_json::Value = serde_json::from_str(json).expect("embedded value set is JSON");
    v["valueSetValues"]
        .as_object()
        .expect("valueSetValues")
        .iter()
        .map(|(code, e)| {
            (
                code.clone(),
                e["display"].as_str().unwrap_or(code).to_string(),
                e["active"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

impl VaccineCatalogue {
    /// The catalogue built from the embedded files (parsed once).
    pub fn embedded() -> &'static VaccineCatalogue {
        static CATALOGUE: OnceLock<VaccineCatalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| Self::parse().expect("embedded vaccine catalogue is consistent"))
    }

    fn parse() -> Result<VaccineCatalogue, String> {
        let names: HashMap<String, (String, bool)> = value_set(MEDICINAL_PRODUCTS)
            .into_iter()
            .map(|(c, d, a)| (c, (d, a)))
            .collect();
        let manufacturers: HashMap<String, String> = value_set(MANUFACTURERS)
            .into_iter()
            .map(|(c, d, _)| (c, d))
            .collect();
        let prophylaxis: HashMap<String, String> = value_set(PROPHYLAXIS)
            .into_iter()
            .map(|(c, d, _)| (c, d))
            .collect();
        let encoding: serde_json::Value =
            serde_json::from_str(ENCODING).map_err(|e| e.to_string())?;
        let mut products = Vec::new();
        for e in encoding["valueSetValues"]
            .as_object()
            .ok_or("encoding instructions without values")?
            .values()
        {
            // Deprecated products carry the suffix in the encoding file only
            // ("NVX-CoV2373 (deprecated)"); the medicinal-product key is the bare code.
            let code = e["vaccine-code"]
                .as_str()
                .ok_or("product without code")?
                .trim_end_matches(" (deprecated)");
            let Some((name, active)) = names.get(code) else {
                return Err(format!(
                    "product {code} is not in the medicinal-product value set"
                ));
            };
            let ma = e["vaccine-manufacturer"]
                .as_str()
                .ok_or("no manufacturer")?;
            let sct: Vec<&str> = e["sct-codes"]
                .as_array()
                .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
                .unwrap_or_default();
            let vp = sct
                .iter()
                .find(|c| **c != GENERIC_VP)
                .or(sct.first())
                .ok_or_else(|| format!("product {code} has no prophylaxis code"))?;
            products.push(VaccineProduct {
                code: code.to_string(),
                name: name.clone(),
                manufacturer_code: ma.to_string(),
                manufacturer: manufacturers
                    .get(ma)
                    .cloned()
                    .ok_or_else(|| format!("unknown manufacturer {ma}"))?,
                prophylaxis_code: vp.to_string(),
                prophylaxis: prophylaxis
                    .get(*vp)
                    .cloned()
                    .ok_or_else(|| format!("unknown prophylaxis {vp}"))?,
                active: *active,
                aliases: Vec::new(),
            });
        }
        products.sort_by(|a, b| a.code.cmp(&b.code));
        let mut lookup: HashMap<String, usize> = products
            .iter()
            .enumerate()
            .flat_map(|(i, p)| [(key(&p.code), i), (key(&p.name), i)])
            .collect();
        let mut reader = csv::Reader::from_reader(ALIASES.as_bytes());
        for row in reader.records() {
            let row = row.map_err(|e| e.to_string())?;
            let (alias, code) = (&row[0], &row[1]);
            let i = products
                .iter()
                .position(|p| p.code == code)
                .ok_or_else(|| format!("alias {alias} names unknown product {code}"))?;
            products[i].aliases.push(alias.to_string());
            lookup.insert(key(alias), i);
        }
        Ok(VaccineCatalogue { products, lookup })
    }

    /// Every product, by code.
    pub fn products(&self) -> &[VaccineProduct] {
        &self.products
    }

    /// The product a DCC code, product name or Vietnamese alias stands for.
    pub fn resolve(&self, text: &str) -> Option<&VaccineProduct> {
        self.lookup.get(&key(text)).map(|&i| &self.products[i])
    }

    /// Like [`VaccineCatalogue::resolve`], with a Vietnamese error naming the field.
    pub fn require(&self, text: &str) -> Result<&VaccineProduct, crate::Error> {
        self.resolve(text).ok_or_else(|| {
            crate::Error::invalid(
                "vaccine",
                format!("Không nhận ra vắc xin «{text}» (dùng mã EU DCC hoặc tên như Pfizer, AstraZeneca, Vero Cell)"),
                format!("Unknown vaccine «{text}» (use an EU DCC code or a name such as Pfizer, AstraZeneca, Vero Cell)"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_names_resolve_to_dcc_codes() {
        let c = VaccineCatalogue::embedded();
        for (alias, code, ma) in [
            ("AstraZeneca", "EU/1/21/1529", "ORG-100001699"),
            ("pfizer", "EU/1/20/1528", "ORG-100030215"),
            ("MODERNA", "EU/1/20/1507", "ORG-100031184"),
            ("Vero Cell", "BBIBP-CorV", "ORG-100020693"),
            ("vero-cell", "BBIBP-CorV", "ORG-100020693"),
            ("Sputnik V", "Sputnik-V", "Gamaleya-Research-Institute"),
            ("Janssen", "EU/1/20/1525", "ORG-100001417"),
            ("Abdala", "Abdala", "CIGB"),
            ("Hayat-Vax", "Hayat-Vax", "ORG-100023050"),
            ("Covaxin", "Covaxin", "Bharat-Biotech"),
            ("EU/1/20/1528", "EU/1/20/1528", "ORG-100030215"),
            ("Comirnaty", "EU/1/20/1528", "ORG-100030215"),
        ] {
            let p = c.resolve(alias).unwrap_or_else(|| panic!("{alias}"));
            assert_eq!(
                (p.code.as_str(), p.manufacturer_code.as_str()),
                (code, ma),
                "{alias}"
            );
        }
        assert_eq!(c.resolve("Pfizer").unwrap().prophylaxis_code, "1119349007");
        assert_eq!(
            c.resolve("Vero Cell").unwrap().prophylaxis_code,
            "1157024006"
        );
        assert_eq!(c.resolve("Abdala").unwrap().prophylaxis_code, GENERIC_VP);
        assert!(c.resolve("Vắc xin lạ").is_none());
        let e = c.require("xyz").unwrap_err();
        assert_eq!(e.details["field"], "vaccine");
    }

    #[test]
    fn every_product_has_codes_from_the_value_sets() {
        let c = VaccineCatalogue::embedded();
        assert_eq!(c.products().len(), 39);
        let mp = value_set(MEDICINAL_PRODUCTS);
        for p in c.products() {
            assert!(mp.iter().any(|(code, _, _)| *code == p.code));
            assert!(!p.manufacturer.is_empty() && !p.prophylaxis.is_empty());
        }
        assert!(
            !c.resolve("Inactivated-SARS-CoV-2-Vero-Cell")
                .unwrap()
                .active
        );
    }
}
