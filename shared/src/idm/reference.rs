//! Reference data from ISO 3166-1 (countries, with their calling codes and
//! ISO 4217 currencies) and ISO 3166-2 (subdivisions). The Apiculus family
//! lists them (`countryList`, `stateList`) and validates `country`, `state`
//! and `countryCode` against them; Gcore validates `country_code`.
//!
//! The tables are the `keshvar` crate's, written once as tab-separated text
//! under `shared/data/` and compiled in as strings: keshvar builds its
//! records in code, which cost each component that linked it ~870 KB of
//! wasm; the text is 6 KB (countries) and 147 KB (subdivisions), and only a
//! component that reads a table links it. A test checks the files against
//! keshvar, so they are never hand-typed.

/// `code \t name \t calling code \t currency`, by code.
const COUNTRIES: &str = include_str!("../../data/iso3166-1.tsv");
/// `country \t code \t kind \t name`, by country then code.
const SUBDIVISIONS: &str = include_str!("../../data/iso3166-2.tsv");

/// One country as the families show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryInfo {
    /// ISO 3166-1 alpha-2 (`IN`).
    pub code: String,
    pub name: String,
    /// ITU calling code without `+` (`91`).
    pub phone: String,
    /// ISO 4217 code of its currency (`INR`).
    pub currency: String,
}

/// One ISO 3166-2 subdivision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubdivisionInfo {
    /// The part after the country (`KA` of `IN-KA`).
    pub code: String,
    pub name: String,
    /// `State`, `Union territory`...
    pub kind: String,
}

/// The rows of a table, each split into its `N` fields (a row with fewer is
/// skipped; the files are checked, so none is).
fn rows<const N: usize>(table: &'static str) -> impl Iterator<Item = [&'static str; N]> {
    table.lines().filter_map(|line| {
        let mut fields = line.split('\t');
        let mut row = [""; N];
        for slot in &mut row {
            *slot = fields.next()?;
        }
        Some(row)
    })
}

fn info([code, name, phone, currency]: [&str; 4]) -> CountryInfo {
    CountryInfo {
        code: code.into(),
        name: name.into(),
        phone: phone.into(),
        currency: currency.into(),
    }
}

/// Every country, by alpha-2 code.
pub fn countries() -> Vec<CountryInfo> {
    rows::<4>(COUNTRIES).map(info).collect()
}

/// The country with this alpha-2 code (upper case, as the vendor's codes
/// are), if any.
pub fn country(code: &str) -> Option<CountryInfo> {
    rows::<4>(COUNTRIES).find(|r| r[0] == code).map(info)
}

/// Whether `code` is an ISO 3166-1 alpha-2 code (upper case).
pub fn is_country(code: &str) -> bool {
    rows::<4>(COUNTRIES).any(|r| r[0] == code)
}

/// The subdivisions of a country, by code.
pub fn subdivisions(code: &str) -> Vec<SubdivisionInfo> {
    rows::<4>(SUBDIVISIONS)
        .filter(|r| r[0] == code)
        .map(|[_, code, kind, name]| SubdivisionInfo {
            code: code.into(),
            name: name.into(),
            kind: kind.into(),
        })
        .collect()
}

/// Whether `dial` (digits, no `+`) is some country's calling code.
pub fn is_calling_code(dial: &str) -> bool {
    !dial.is_empty()
        && dial.len() <= 4
        && dial.bytes().all(|b| b.is_ascii_digit())
        && rows::<4>(COUNTRIES).any(|r| r[2] == dial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn india_and_karnataka_are_as_the_seed_names_them() {
        let india = country("IN").unwrap();
        assert_eq!(
            (india.phone.as_str(), india.currency.as_str()),
            ("91", "INR")
        );
        let states = subdivisions("IN");
        assert!(
            states
                .iter()
                .any(|s| s.code == "KA" && s.name == "Karnataka")
        );
        assert!(is_calling_code("91") && !is_calling_code("9999") && !is_calling_code("+91"));
        assert!(country("in").is_none() && country("XX").is_none() && country("IND").is_none());
        assert!(is_country("IN") && !is_country("in") && !is_country("XX") && !is_country("IND"));
        assert!(!is_country("") && !is_country("I") && subdivisions("").is_empty());
        assert!(countries().len() > 240);
    }

    /// The tables as keshvar keeps them, sorted, one record a line.
    fn from_keshvar() -> (String, String) {
        use keshvar::CountryIterator;
        let clean = |s: String| {
            assert!(!s.contains(['\t', '\n', '\r']), "{s:?} cannot be a field");
            s
        };
        let mut countries = Vec::new();
        let mut subdivisions = Vec::new();
        for c in CountryIterator::new() {
            let code = c.alpha2().to_string();
            countries.push(format!(
                "{code}\t{}\t{}\t{}\n",
                clean(c.iso_short_name().to_string()),
                clean(c.country_code().to_string()),
                clean(c.currency_code().to_string()),
            ));
            for s in c.subdivisions().values() {
                subdivisions.push(format!(
                    "{code}\t{}\t{}\t{}\n",
                    clean(s.code().to_string()),
                    clean(s.subdivision_type().to_string()),
                    clean(s.name().to_string()),
                ));
            }
        }
        countries.sort();
        subdivisions.sort();
        (countries.concat(), subdivisions.concat())
    }

    /// The committed tables are keshvar's; `ONBOARD_UPDATE_REFERENCE=1`
    /// rewrites them (after a keshvar upgrade).
    #[test]
    fn the_tables_are_keshvars() {
        let (countries, subdivisions) = from_keshvar();
        if std::env::var_os("ONBOARD_UPDATE_REFERENCE").is_some() {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
            std::fs::write(format!("{dir}/iso3166-1.tsv"), &countries).unwrap();
            std::fs::write(format!("{dir}/iso3166-2.tsv"), &subdivisions).unwrap();
            return;
        }
        assert!(COUNTRIES == countries, "data/iso3166-1.tsv is stale");
        assert!(SUBDIVISIONS == subdivisions, "data/iso3166-2.tsv is stale");
    }
}
