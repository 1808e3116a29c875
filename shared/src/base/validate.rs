//! Field rules shared by every family: emails, lengths, locales, time zones.
//! Each returns the message a family puts beside the field name.

/// Longest string any documented field accepts.
pub const MAX_LEN: usize = 255;

static TIMEZONES: &str = include_str!("../../data/timezones.txt");

/// ISO 639-1 language codes.
pub const LANGUAGES: &[&str] = &[
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh",
    "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da",
    "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr",
    "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz",
    "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj",
    "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln",
    "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb",
    "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi",
    "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk",
    "sl", "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti",
    "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo",
    "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu",
];

/// A plausible mailbox address (RFC 5321 limits), as the families' clients send.
pub fn email(value: &str) -> Result<(), &'static str> {
    if value.trim() != value || value.is_empty() {
        return Err("is not a valid email address");
    }
    if value.len() > MAX_LEN {
        return Err("is too long (maximum is 255 characters)");
    }
    let parsed = value.parse::<email_address::EmailAddress>();
    let domain_ok = value
        .rsplit_once('@')
        .is_some_and(|(_, d)| d.contains('.') && !d.starts_with('[') && !d.ends_with('.'));
    match parsed {
        Ok(_) if domain_ok => Ok(()),
        _ => Err("is not a valid email address"),
    }
}

/// Case- and space-insensitive form under which an email is unique in a tenant.
pub fn normalize_email(value: &str) -> String {
    value.trim().to_lowercase()
}

/// At most [`MAX_LEN`] characters.
pub fn max_len(value: &str) -> Result<(), &'static str> {
    if value.chars().count() > MAX_LEN {
        Err("is too long (maximum is 255 characters)")
    } else {
        Ok(())
    }
}

/// `en`, `pt-BR`, `pt_BR`: an ISO 639-1 language, optionally with an ISO 3166 region.
pub fn locale(value: &str) -> Result<(), &'static str> {
    let (lang, region) = match value.split_once(['-', '_']) {
        Some((l, r)) => (l, Some(r)),
        None => (value, None),
    };
    let region_ok =
        region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()));
    if LANGUAGES.contains(&lang.to_ascii_lowercase().as_str()) && region_ok {
        Ok(())
    } else {
        Err("is not a supported locale")
    }
}

/// The IANA time zone names [`timezone`] accepts.
pub fn timezones() -> impl Iterator<Item = &'static str> {
    TIMEZONES.lines().filter(|l| !l.starts_with('#'))
}

/// An IANA time zone name (`UTC`, `Europe/Athens`).
pub fn timezone(value: &str) -> Result<(), &'static str> {
    let known = timezones().any(|l| l == value);
    if known {
        Ok(())
    } else {
        Err("is not a valid IANA time zone")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(email("user@clone-systems.com").is_ok());
        assert!(email("a.b+tag@sub.example.org").is_ok());
        for bad in [
            "",
            "plain",
            "a@b",
            "@x.com",
            "a@@x.com",
            " a@x.com",
            "a b@x.com",
            "a@x.",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(email(&format!("{}@x.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn locales_and_timezones() {
        assert!(locale("en").is_ok() && locale("pt-BR").is_ok() && locale("de_DE").is_ok());
        assert!(locale("xx").is_err() && locale("en-USA").is_err() && locale("").is_err());
        assert!(timezone("UTC").is_ok() && timezone("Europe/Athens").is_ok());
        assert!(timezone("Mars/Olympus").is_err() && timezone("").is_err());
    }

    #[test]
    fn lengths_count_characters() {
        assert!(max_len(&"é".repeat(255)).is_ok());
        assert!(max_len(&"a".repeat(256)).is_err());
    }
}
