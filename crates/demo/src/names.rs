//! Vietnamese personal names: family, middle and given name, by sex, region and ethnic group.
//!
//! Kinh (ethnic Vietnamese) surnames follow their national frequencies, with the regional variants
//! Hoàng/Huỳnh and Vũ/Võ split north/south. Middle names depend on sex ("Văn" is only for men,
//! "Thị" only for women) and, mildly, on age: the traditional "Thị"/"Văn" are commoner among older
//! people. In the northern mountain provinces about half of the households belong to an ethnic
//! minority and use that group's surnames and naming pattern (H'Mông "Giàng A Páo", Thái
//! "Lò Văn Pọm", Tày–Nùng "Nông Văn Hải").
//!
//! Every table entry is a single capitalised word in NFC, so joined names are already in the form
//! [`domain::name::normalize`] produces (checked by tests).

use domain::person::Sex;
use rand::Rng;

use crate::sampling::{Weighted, pick};

/// Kinh surnames and their approximate national shares in percent. Hoàng/Huỳnh and Vũ/Võ are
/// listed with their combined share and split by region in [`NameBook::for_province`].
const KINH_SURNAMES: &[(&str, f64)] = &[
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    (HOANG, 5.0),
    ("Phan", 4.5),
    (VU, 4.0),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
];

const HOANG: &str = "Hoàng";
const HUYNH: &str = "Huỳnh";
const VU: &str = "Vũ";
const VO: &str = "Võ";

/// Less common Kinh surnames, relative weights; together they take the share left by
/// [`KINH_SURNAMES`].
const KINH_OTHER_SURNAMES: &[(&str, f64)] = &[
    ("Đào", 1.0),
    ("Đinh", 1.0),
    ("Trương", 1.0),
    ("Lâm", 0.8),
    ("Mai", 0.8),
    ("Trịnh", 0.8),
    ("Cao", 0.7),
    ("Lưu", 0.6),
    ("Hà", 0.7),
    ("Lương", 0.6),
    ("Tạ", 0.5),
    ("Tô", 0.5),
    ("Phùng", 0.5),
    ("Thái", 0.4),
    ("Vương", 0.4),
    ("Châu", 0.4),
    ("Kiều", 0.3),
    ("Quách", 0.3),
    ("La", 0.3),
    ("Tăng", 0.3),
];

/// H'Mông (and Dao: Tẩn, Chảo) surnames of the northern highlands, relative weights.
const HMONG_SURNAMES: &[(&str, f64)] = &[
    ("Giàng", 20.0),
    ("Sùng", 14.0),
    ("Vàng", 14.0),
    ("Thào", 14.0),
    ("Mùa", 8.0),
    ("Lầu", 7.0),
    ("Hảng", 6.0),
    ("Lý", 7.0),
    ("Tẩn", 5.0),
    ("Chảo", 5.0),
];

/// Thái surnames of the north-west, relative weights.
const THAI_SURNAMES: &[(&str, f64)] = &[
    ("Lò", 30.0),
    ("Lường", 20.0),
    ("Quàng", 15.0),
    ("Cầm", 15.0),
    ("Tao", 10.0),
    ("Lù", 5.0),
    ("Hà", 5.0),
];

/// Tày and Nùng surnames of the north-east, relative weights.
const TAY_NUNG_SURNAMES: &[(&str, f64)] = &[
    ("Nông", 22.0),
    ("Hoàng", 18.0),
    ("Lương", 10.0),
    ("Bế", 9.0),
    ("Triệu", 9.0),
    ("Lục", 7.0),
    ("Lăng", 6.0),
    ("Ma", 6.0),
    ("Hà", 5.0),
    ("Vi", 4.0),
    ("Đàm", 4.0),
];

/// Kinh middle names for women other than "Thị".
const FEMALE_MIDDLE_NAMES: &[&str] = &[
    "Ngọc", "Thu", "Thanh", "Minh", "Hồng", "Mai", "Phương", "Kim", "Thúy", "Bảo", "Khánh", "Diệu",
    "Thùy", "Hoài", "Bích", "Thảo", "Quỳnh", "Tuyết", "Hải", "Như", "Lan", "Vân",
];

/// Kinh middle names for men other than "Văn".
const MALE_MIDDLE_NAMES: &[&str] = &[
    "Đức", "Minh", "Quang", "Hữu", "Công", "Xuân", "Thanh", "Trọng", "Quốc", "Gia", "Anh", "Tuấn",
    "Hoàng", "Đình", "Ngọc", "Mạnh", "Duy", "Bá", "Thành", "Hải", "Trung", "Việt",
];

/// Common Kinh given names for men.
const MALE_GIVEN_NAMES: &[&str] = &[
    "Hùng", "Dũng", "Tuấn", "Minh", "Nam", "Long", "Hải", "Sơn", "Thắng", "Cường", "Phong", "Huy",
    "Khoa", "Bảo", "Đạt", "Quân", "Trung", "Hiếu", "Tài", "Phúc", "Hưng", "Thành", "Tùng", "Khánh",
    "Hoàng", "Kiên", "Lâm", "Duy", "Vinh", "Thịnh", "Toàn", "Tiến", "Đức", "Việt", "Hòa", "Nghĩa",
    "An", "Khải", "Lộc", "Trí", "Tâm", "Quang", "Chiến", "Hậu", "Bình", "Tú", "Nhật", "Khang",
    "Thuận", "Lực",
];

/// Common Kinh given names for women.
const FEMALE_GIVEN_NAMES: &[&str] = &[
    "Lan", "Hương", "Hoa", "Linh", "Trang", "Thảo", "Ngọc", "Hà", "Mai", "Huyền", "Nhung", "Yến",
    "Vy", "Anh", "Nga", "Thủy", "Hạnh", "Quỳnh", "Chi", "Giang", "Hằng", "Loan", "Phương", "Oanh",
    "Dung", "Thu", "Hiền", "Liên", "Trâm", "Nhi", "Tâm", "Vân", "Diệp", "Châu", "Uyên", "My", "Ly",
    "Thư", "Hồng", "Xuân", "Tuyết", "Diễm", "Ánh", "Nhàn", "Thanh", "Huệ",
];

/// H'Mông given names for men.
const HMONG_MALE_GIVEN_NAMES: &[&str] = &[
    "Páo", "Sình", "Chứ", "Lử", "Chơ", "Tủa", "Dình", "Sử", "Pó", "Nủ", "Cáy", "Vừ", "Thề", "Khua",
];

/// H'Mông given names for women.
const HMONG_FEMALE_GIVEN_NAMES: &[&str] = &[
    "Dế", "Mỷ", "Sua", "Dua", "Súa", "Mai", "Dợ", "Chía", "Pằng", "Sò", "Và", "Lìa", "Chú", "Mua",
];

/// Thái given names for men (used for part of the Thái population; the rest use Kinh names).
const THAI_MALE_GIVEN_NAMES: &[&str] = &[
    "Pọm", "Ún", "Khăm", "Panh", "Chăn", "Ính", "Xương", "Hặc", "Piếng", "Thoong",
];

/// Thái given names for women.
const THAI_FEMALE_GIVEN_NAMES: &[&str] = &[
    "Ón", "Ỉnh", "Bun", "Phăn", "Xiêng", "Hom", "Pẻng", "Ản", "Én", "Panh",
];

/// H'Mông men's middle names: mostly "A", "Seo" in the Lào Cai and Hà Giang highlands.
const HMONG_MALE_MIDDLE_NAMES: &[(&str, f64)] = &[("A", 85.0), ("Seo", 15.0)];

const VAN: &str = "Văn";
const THI: &str = "Thị";

/// The naming tradition a household follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameStyle {
    /// Ethnic Vietnamese, the national majority.
    Kinh,
    /// H'Mông (and Dao) highlanders: "Giàng A Páo", "Sùng Thị Mỷ".
    Hmong,
    /// Thái of the north-west: "Lò Văn Pọm", "Cầm Thị Ón".
    Thai,
    /// Tày and Nùng of the north-east: "Nông Văn Hải", "Bế Thị Lan".
    TayNung,
}

/// Share of households belonging to an ethnic minority in the northern mountain provinces, and
/// how those households divide between the minority naming styles, by 2025 province code.
fn minority_mix(province_code: &str) -> Option<(f64, &'static [(NameStyle, f64)])> {
    use NameStyle::{Hmong, TayNung, Thai};
    let mix: &'static [(NameStyle, f64)] = match province_code {
        "04" => &[(TayNung, 0.8), (Hmong, 0.2)], // Cao Bằng
        "08" => &[(Hmong, 0.5), (TayNung, 0.5)], // Tuyên Quang (with Hà Giang)
        "11" => &[(Thai, 0.5), (Hmong, 0.5)],    // Điện Biên
        "12" => &[(Hmong, 0.5), (Thai, 0.5)],    // Lai Châu
        "14" => &[(Thai, 0.7), (Hmong, 0.3)],    // Sơn La
        "15" => &[(Hmong, 0.5), (TayNung, 0.3), (Thai, 0.2)], // Lào Cai (with Yên Bái)
        "20" => &[(TayNung, 0.9), (Hmong, 0.1)], // Lạng Sơn
        _ => return None,
    };
    Some((0.5, mix))
}

/// Name tables prepared for one province.
#[derive(Debug, Clone)]
pub(crate) struct NameBook {
    styles: Weighted<NameStyle>,
    kinh_surnames: Weighted<&'static str>,
    hmong_surnames: Weighted<&'static str>,
    thai_surnames: Weighted<&'static str>,
    tay_nung_surnames: Weighted<&'static str>,
    hmong_male_middle: Weighted<&'static str>,
}

impl NameBook {
    /// Tables for a 2025 province code. Provinces from code 44 (Quảng Trị) southward write
    /// Hoàng as Huỳnh, and from 40 (Nghệ An) southward Vũ as Võ, each for about four in five
    /// bearers; further north the other form dominates as strongly.
    pub(crate) fn for_province(province_code: &str) -> Self {
        let number: u16 = province_code.parse().unwrap_or(0);
        let huynh_share = if number >= 44 { 0.8 } else { 0.1 };
        let vo_share = if number >= 40 { 0.8 } else { 0.1 };

        let main_total: f64 = KINH_SURNAMES.iter().map(|(_, w)| w).sum();
        let other_total: f64 = KINH_OTHER_SURNAMES.iter().map(|(_, w)| w).sum();
        let other_scale = (100.0 - main_total) / other_total;
        let mut kinh = Vec::with_capacity(KINH_SURNAMES.len() + KINH_OTHER_SURNAMES.len() + 2);
        for &(name, weight) in KINH_SURNAMES {
            match name {
                HOANG => {
                    kinh.push((HOANG, weight * (1.0 - huynh_share)));
                    kinh.push((HUYNH, weight * huynh_share));
                }
                VU => {
                    kinh.push((VU, weight * (1.0 - vo_share)));
                    kinh.push((VO, weight * vo_share));
                }
                _ => kinh.push((name, weight)),
            }
        }
        kinh.extend(
            KINH_OTHER_SURNAMES
                .iter()
                .map(|&(name, weight)| (name, weight * other_scale)),
        );

        let styles = match minority_mix(province_code) {
            Some((minority_share, mix)) => {
                let mut styles = vec![(NameStyle::Kinh, 1.0 - minority_share)];
                styles.extend(mix.iter().map(|&(s, w)| (s, w * minority_share)));
                Weighted::from_table(&styles)
            }
            None => Weighted::from_table(&[(NameStyle::Kinh, 1.0)]),
        };

        NameBook {
            styles,
            kinh_surnames: Weighted::from_table(&kinh),
            hmong_surnames: Weighted::from_table(HMONG_SURNAMES),
            thai_surnames: Weighted::from_table(THAI_SURNAMES),
            tay_nung_surnames: Weighted::from_table(TAY_NUNG_SURNAMES),
            hmong_male_middle: Weighted::from_table(HMONG_MALE_MIDDLE_NAMES),
        }
    }

    /// The naming tradition of a new household.
    pub(crate) fn household_style<R: Rng + ?Sized>(&self, rng: &mut R) -> NameStyle {
        self.styles.sample(rng)
    }

    /// A surname of the given tradition.
    pub(crate) fn surname<R: Rng + ?Sized>(&self, style: NameStyle, rng: &mut R) -> &'static str {
        match style {
            NameStyle::Kinh => self.kinh_surnames.sample(rng),
            NameStyle::Hmong => self.hmong_surnames.sample(rng),
            NameStyle::Thai => self.thai_surnames.sample(rng),
            NameStyle::TayNung => self.tay_nung_surnames.sample(rng),
        }
    }

    /// A middle name for someone of this sex and age. Kinh women are "Thị" about 60 % of the time
    /// and Kinh men "Văn" about 45 %, both more often the older the person.
    pub(crate) fn middle<R: Rng + ?Sized>(
        &self,
        style: NameStyle,
        sex: Sex,
        age: u8,
        rng: &mut R,
    ) -> &'static str {
        match (style, sex) {
            (NameStyle::Hmong, Sex::Male) => self.hmong_male_middle.sample(rng),
            (NameStyle::Hmong | NameStyle::Thai, Sex::Female) => THI,
            (NameStyle::Thai, Sex::Male) => VAN,
            (NameStyle::Kinh | NameStyle::TayNung, Sex::Female) => {
                let p_thi = match age {
                    0..=24 => 0.45,
                    25..=44 => 0.60,
                    _ => 0.78,
                };
                if rng.random_bool(p_thi) {
                    THI
                } else {
                    pick(rng, FEMALE_MIDDLE_NAMES)
                }
            }
            (NameStyle::Kinh | NameStyle::TayNung, Sex::Male) => {
                let p_van = match age {
                    0..=24 => 0.30,
                    25..=44 => 0.45,
                    _ => 0.62,
                };
                if rng.random_bool(p_van) {
                    VAN
                } else {
                    pick(rng, MALE_MIDDLE_NAMES)
                }
            }
        }
    }

    /// A given name of the tradition and sex, different from the middle name.
    pub(crate) fn given<R: Rng + ?Sized>(
        &self,
        style: NameStyle,
        sex: Sex,
        middle: &str,
        rng: &mut R,
    ) -> &'static str {
        let list = match (style, sex) {
            (NameStyle::Hmong, Sex::Male) => HMONG_MALE_GIVEN_NAMES,
            (NameStyle::Hmong, Sex::Female) => HMONG_FEMALE_GIVEN_NAMES,
            (NameStyle::Thai, Sex::Male) if rng.random_bool(0.5) => THAI_MALE_GIVEN_NAMES,
            (NameStyle::Thai, Sex::Female) if rng.random_bool(0.5) => THAI_FEMALE_GIVEN_NAMES,
            (_, Sex::Male) => MALE_GIVEN_NAMES,
            (_, Sex::Female) => FEMALE_GIVEN_NAMES,
        };
        let mut given = pick(rng, list);
        for _ in 0..8 {
            if given != middle {
                break;
            }
            given = pick(rng, list);
        }
        given
    }
}

/// Joins the three parts with single spaces into one allocation.
pub(crate) fn full_name(family: &str, middle: &str, given: &str) -> String {
    let mut name = String::with_capacity(family.len() + middle.len() + given.len() + 2);
    name.push_str(family);
    name.push(' ');
    name.push_str(middle);
    name.push(' ');
    name.push_str(given);
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::name::normalize;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn all_words() -> Vec<&'static str> {
        let mut words: Vec<&str> = Vec::new();
        for table in [
            KINH_SURNAMES,
            KINH_OTHER_SURNAMES,
            HMONG_SURNAMES,
            THAI_SURNAMES,
            TAY_NUNG_SURNAMES,
            HMONG_MALE_MIDDLE_NAMES,
        ] {
            words.extend(table.iter().map(|(w, _)| *w));
        }
        for list in [
            FEMALE_MIDDLE_NAMES,
            MALE_MIDDLE_NAMES,
            MALE_GIVEN_NAMES,
            FEMALE_GIVEN_NAMES,
            HMONG_MALE_GIVEN_NAMES,
            HMONG_FEMALE_GIVEN_NAMES,
            THAI_MALE_GIVEN_NAMES,
            THAI_FEMALE_GIVEN_NAMES,
        ] {
            words.extend(list);
        }
        words.extend([HUYNH, VO, VAN, THI]);
        words
    }

    #[test]
    fn every_table_entry_is_one_normalised_word() {
        for word in all_words() {
            assert_eq!(normalize(word), word, "{word:?} is not normalised NFC");
            assert!(!word.contains(char::is_whitespace), "{word:?}");
        }
    }

    #[test]
    fn given_name_lists_are_large_and_without_duplicates() {
        for list in [MALE_GIVEN_NAMES, FEMALE_GIVEN_NAMES] {
            assert!(list.len() >= 40, "{} names", list.len());
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "duplicate in {list:?}");
        }
        assert!(KINH_OTHER_SURNAMES.len() >= 20);
    }

    #[test]
    fn middle_names_never_cross_sexes() {
        assert!(!FEMALE_MIDDLE_NAMES.contains(&VAN));
        assert!(!MALE_MIDDLE_NAMES.contains(&THI));
        let book = NameBook::for_province("12");
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for style in [
            NameStyle::Kinh,
            NameStyle::Hmong,
            NameStyle::Thai,
            NameStyle::TayNung,
        ] {
            for age in [3, 30, 70] {
                for _ in 0..200 {
                    assert_ne!(book.middle(style, Sex::Female, age, &mut rng), VAN);
                    assert_ne!(book.middle(style, Sex::Male, age, &mut rng), THI);
                }
            }
        }
    }

    #[test]
    fn kinh_shares_add_up_to_the_national_table() {
        let book = NameBook::for_province("01");
        let items = book.kinh_surnames.items();
        let share = |name: &str| -> f64 {
            items
                .iter()
                .enumerate()
                .filter(|(_, n)| **n == name)
                .map(|(i, _)| book.kinh_surnames.probability(i))
                .sum()
        };
        assert!((share("Nguyễn") - 0.38).abs() < 1e-9);
        assert!((share(HOANG) + share(HUYNH) - 0.05).abs() < 1e-9);
        assert!(share(HOANG) > share(HUYNH));
        let south = NameBook::for_province("79");
        let i = south.kinh_surnames.items().iter().position(|n| *n == HUYNH);
        assert!(south.kinh_surnames.probability(i.unwrap()) > 0.035);
    }
}
