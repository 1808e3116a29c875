//! Reference data from ISO 3166-1 (countries, with their calling codes and
//! ISO 4217 currencies) and ISO 3166-2 (subdivisions), as the `keshvar`
//! crate keeps them; no hand-typed tables. The Apiculus family lists them
//! (`countryList`, `stateList`) and validates `country`, `state` and
//! `countryCode` against them.

use keshvar::{Alpha2, Country, CountryIterator};

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

fn info(c: &Country) -> CountryInfo {
    CountryInfo {
        code: c.alpha2().to_string(),
        name: c.iso_short_name().to_string(),
        phone: c.country_code().to_string(),
        currency: c.currency_code().to_string(),
    }
}

/// Every country, by alpha-2 code.
pub fn countries() -> Vec<CountryInfo> {
    let mut all: Vec<CountryInfo> = CountryIterator::new().map(|c| info(&c)).collect();
    all.sort_by(|a, b| a.code.cmp(&b.code));
    all
}

fn alpha2(code: &str) -> Option<Alpha2> {
    // Case-sensitive, as the vendor's codes are.
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
        .then(|| Alpha2::try_from(code).ok())
        .flatten()
}

/// The country with this alpha-2 code (upper case), if any.
pub fn country(code: &str) -> Option<CountryInfo> {
    alpha2(code).map(|a| info(&a.to_country()))
}

/// Whether `code` is an ISO 3166-1 alpha-2 code (upper case). Cheaper than
/// [`country`] in size: it does not link the country records, so a component
/// that only validates codes stays small.
pub fn is_country(code: &str) -> bool {
    alpha2(code).is_some()
}

/// The subdivisions of a country, by code.
pub fn subdivisions(code: &str) -> Vec<SubdivisionInfo> {
    let Some(a) = alpha2(code) else {
        return Vec::new();
    };
    let mut all: Vec<SubdivisionInfo> = a
        .to_country()
        .subdivisions()
        .values()
        .map(|s| SubdivisionInfo {
            code: s.code().to_string(),
            name: s.name().to_string(),
            kind: s.subdivision_type().to_string(),
        })
        .collect();
    all.sort_by(|a, b| a.code.cmp(&b.code));
    all
}

/// Whether `dial` (digits, no `+`) is some country's calling code.
pub fn is_calling_code(dial: &str) -> bool {
    !dial.is_empty()
        && dial.len() <= 4
        && dial.bytes().all(|b| b.is_ascii_digit())
        && CountryIterator::new().any(|c| c.country_code().to_string() == dial)
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
        assert!(countries().len() > 240);
    }
}
