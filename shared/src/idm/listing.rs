//! Lists for every family: filtering, sorting, date windows and paging over
//! the storage core's index lists.
//!
//! # Cost
//! The default order (insertion order) with no filter reads one page of index
//! positions and that page's records: O(page size) key-value calls whatever
//! the list's length. A filter, another sort order or a date window scans the
//! caller's list instead, up to [`SCAN_CAP`] entries; the answer says when the
//! cap cut the scan short (`meta.truncated`).
//!
//! # Query (Clone v2 style)
//! `q[<column>]=<value>` (`*` matches any run of characters; quotes around the
//! value are dropped; case-insensitive), `sort_by=<column>` with `:asc` /
//! `:desc` or a leading `-` for descending, `date_range_start` /
//! `date_range_end` (`YYYY-MM-DD[ hh:mm:ss]`) and `relative_date_range`
//! (`10d`, `3M`, `1y`, `1q2020`...) on the list's date column, `page` (from 1)
//! and `per_page` (default 10, at most 100). Unknown columns and malformed
//! values are 422 naming the parameter.

use crate::base::error::{FieldErrors, Result};
use crate::base::time::{self, Millis};
use crate::be::storage::keys;

/// Entries a filtered or re-sorted list reads at most.
pub const SCAN_CAP: usize = 5_000;
pub const DEFAULT_PER_PAGE: usize = 10;
pub const MAX_PER_PAGE: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Column and lower-cased pattern.
    pub filters: Vec<(String, String)>,
    /// Column and a set of values: a row matches when one of the column's
    /// whitespace-separated tokens is in the set (membership filters).
    pub tokens: Vec<(String, Vec<String>)>,
    /// Column and whether descending.
    pub sort: Option<(String, bool)>,
    /// Inclusive window on the date column.
    pub window: Option<(Millis, Millis)>,
    pub page: usize,
    pub per_page: usize,
    /// Rows to skip instead of whole pages (offset paging, Gcore).
    pub offset: Option<usize>,
}

impl ListQuery {
    /// Page `page` of `per_page` rows, in the list's own order, unfiltered.
    pub fn page(page: usize, per_page: usize) -> Self {
        ListQuery {
            filters: Vec::new(),
            tokens: Vec::new(),
            sort: None,
            window: None,
            page,
            per_page,
            offset: None,
        }
    }
    /// Rows skipped before this page.
    pub fn skipped(&self) -> usize {
        self.offset
            .unwrap_or_else(|| (self.page - 1).saturating_mul(self.per_page))
    }
    /// Whether the list can be served straight from the index.
    pub fn is_plain(&self) -> bool {
        // Offset paging counts visible rows (its clients page by them), so
        // it scans rather than slicing index slots.
        self.filters.is_empty()
            && self.tokens.is_empty()
            && self.sort.is_none()
            && self.window.is_none()
            && self.offset.is_none()
    }
}

/// Whether `value` matches a `*` wildcard pattern (both lower-cased).
pub fn wildcard(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let mut rest = value;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn unit_millis(unit: char, n: i64, now: Millis) -> Option<Millis> {
    Some(match unit {
        's' => now - n * 1000,
        'm' => now - n * 60_000,
        'h' => now - n * 3_600_000,
        'd' => now - n * 86_400_000,
        'M' => time::add_months(now, -n),
        'q' => time::add_months(now, -3 * n),
        'y' => time::add_months(now, -12 * n),
        _ => return None,
    })
}

/// `10d` (the last ten days), `3M`, `1y`, or a numbered period of a year:
/// `1q2020` (Q1 2020), `2M2024` (February 2024).
pub fn relative_range(spec: &str, now: Millis) -> Option<(Millis, Millis)> {
    let digits_end = spec.find(|c: char| !c.is_ascii_digit())?;
    let n: i64 = spec[..digits_end].parse().ok()?;
    let mut rest = spec[digits_end..].chars();
    let unit = rest.next()?;
    let year = rest.as_str();
    if year.is_empty() {
        if !(1..=100_000).contains(&n) {
            return None;
        }
        return Some((unit_millis(unit, n, now)?, now));
    }
    let year: i64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let (months, count) = match unit {
        'q' if (1..=4).contains(&n) => ((n - 1) * 3, 3),
        'M' if (1..=12).contains(&n) => (n - 1, 1),
        _ => return None,
    };
    let start = time::add_months(time::parse_iso8601(&format!("{year:04}-01-01"))?, months);
    Some((start, time::add_months(start, count) - 1))
}

fn date_param(raw: &str) -> Option<Millis> {
    time::parse_iso8601(raw.trim().trim_matches('\''))
}

/// Parses a list's query string against its `columns`.
/// The parameters [`parse`] reads whatever the list; `sort_by` and the
/// `q[<column>]` filters name each list's own columns, so the document adds
/// them per list. Every malformed value is 422 naming the parameter.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct ListParams {
    /// Page number, from 1
    #[schemars(range(min = 1, max = 1_000_000), extend("default" = 1))]
    pub page: Option<u32>,
    /// Rows per page
    #[schemars(range(min = 1, max = MAX_PER_PAGE), extend("default" = DEFAULT_PER_PAGE))]
    pub per_page: Option<u32>,
    /// Window start on the list's date column (inclusive)
    #[schemars(with = "Option<DateOrDateTime>")]
    pub date_range_start: Option<String>,
    /// Window end (inclusive; a bare date ends at the end of that day); not
    /// before date_range_start
    #[schemars(with = "Option<DateOrDateTime>")]
    pub date_range_end: Option<String>,
    /// `10d` (last ten days; units s m h d M q y), or `1q2020`, `2M2024`;
    /// replaces the date window
    // relative_range: <n><unit> with n 1..=100000, or <1-4>q<year> /
    // <1-12>M<year> with year 1970..=9999.
    #[schemars(regex(
        pattern = "^([1-9][0-9]{0,4}[smhdMqy]|[1-4]q(19[7-9][0-9]|[2-9][0-9]{3})|([1-9]|1[0-2])M(19[7-9][0-9]|[2-9][0-9]{3}))$"
    ))]
    pub relative_date_range: Option<String>,
}

#[cfg(feature = "openapi")]
crate::base::schema::schema_type!(
    /// A `YYYY-MM-DD` date or an ISO-8601 date-time (`time::parse_iso8601`).
    DateOrDateTime,
    serde_json::json!({"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]})
);

pub fn parse(query: Option<&str>, columns: &[&str], now: Millis) -> Result<ListQuery> {
    let mut errors = FieldErrors::default();
    let mut out = ListQuery {
        filters: Vec::new(),
        tokens: Vec::new(),
        sort: None,
        window: None,
        page: 1,
        per_page: DEFAULT_PER_PAGE,
        offset: None,
    };
    let (mut start, mut end) = (None, None);
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = value.trim().to_string();
        match key.as_ref() {
            "page" => match value.parse::<usize>() {
                Ok(p) if (1..=1_000_000).contains(&p) => out.page = p,
                _ => errors.add("page", "must be a positive integer"),
            },
            "per_page" => match value.parse::<usize>() {
                Ok(p) if (1..=MAX_PER_PAGE).contains(&p) => out.per_page = p,
                _ => errors.add("per_page", format!("must be 1 to {MAX_PER_PAGE}")),
            },
            "sort_by" => {
                let (column, desc) = if let Some(c) = value.strip_prefix('-') {
                    (c.to_string(), true)
                } else if let Some((c, dir)) = value.split_once(':').or(value.split_once(' ')) {
                    match dir.trim().to_ascii_lowercase().as_str() {
                        "asc" => (c.to_string(), false),
                        "desc" => (c.to_string(), true),
                        _ => {
                            errors.add("sort_by", "direction must be asc or desc");
                            (c.to_string(), false)
                        }
                    }
                } else {
                    (value.clone(), false)
                };
                if columns.contains(&column.as_str()) {
                    out.sort = Some((column, desc));
                } else {
                    errors.add("sort_by", format!("{column} is not a column of this list"));
                }
            }
            "date_range_start" => match date_param(&value) {
                Some(t) => start = Some(t),
                None => errors.add("date_range_start", "is not a date (YYYY-MM-DD hh:mm:ss)"),
            },
            "date_range_end" => match date_param(&value) {
                Some(t) => {
                    // A bare date ends at the end of that day.
                    let t = if value.trim_matches('\'').len() == 10 {
                        t + 86_399_999
                    } else {
                        t
                    };
                    end = Some(t);
                }
                None => errors.add("date_range_end", "is not a date (YYYY-MM-DD hh:mm:ss)"),
            },
            "relative_date_range" => match relative_range(value.trim_matches('\''), now) {
                Some((s, e)) => {
                    start = Some(s);
                    end = Some(e);
                }
                None => errors.add(
                    "relative_date_range",
                    "must be <n><unit> (unit s, m, h, d, M, q, y) or <n>q<year>, <n>M<year>",
                ),
            },
            k if k.starts_with("q[") && k.ends_with(']') => {
                let column = &k[2..k.len() - 1];
                if columns.contains(&column) {
                    let pattern = value.trim_matches('\'').trim_matches('"').to_lowercase();
                    out.filters.push((column.to_string(), pattern));
                } else {
                    errors.add(
                        k.to_string(),
                        format!("{column} is not a searchable column"),
                    );
                }
            }
            _ => {}
        }
    }
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        errors.add("date_range_end", "must not be before date_range_start");
    }
    if start.is_some() || end.is_some() {
        out.window = Some((start.unwrap_or(Millis::MIN), end.unwrap_or(Millis::MAX)));
    }
    errors.into_result()?;
    Ok(out)
}

/// One row as the list filters and sorts it.
pub struct Row<T> {
    pub item: T,
    /// Column values (lower-cased for matching; compared as text, dates as
    /// their ISO form, which sorts in time order).
    pub columns: Vec<(&'static str, String)>,
    pub date: Millis,
}

impl<T> Row<T> {
    fn column(&self, name: &str) -> &str {
        self.columns
            .iter()
            .find(|(c, _)| *c == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

/// Filters, sorts and pages scanned rows; returns the page and the total.
pub fn select<T>(mut rows: Vec<Row<T>>, query: &ListQuery) -> (Vec<T>, usize) {
    rows.retain(|r| {
        query
            .filters
            .iter()
            .all(|(c, p)| wildcard(p, &r.column(c).to_lowercase()))
            && query.tokens.iter().all(|(c, set)| {
                r.column(c)
                    .split_whitespace()
                    .any(|t| set.iter().any(|s| s == t))
            })
            && query.window.is_none_or(|(s, e)| r.date >= s && r.date <= e)
    });
    if let Some((column, desc)) = &query.sort {
        rows.sort_by(|a, b| {
            let o = a.column(column).cmp(b.column(column));
            if *desc { o.reverse() } else { o }
        });
    }
    let total = rows.len();
    let page = rows
        .into_iter()
        .skip(query.skipped())
        .take(query.per_page)
        .map(|r| r.item)
        .collect();
    (page, total)
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Rows matching (the kept count for a plain list).
    pub total: usize,
    /// Rows the pages span, for counting pages: a plain list's pages are
    /// slices of index slots, some of them empty (deleted or moved records),
    /// so its last rows can sit past `total`. At least `total`.
    pub span: usize,
    /// A scan stopped at [`SCAN_CAP`] entries.
    pub truncated: bool,
}

/// Index positions read per `get_many` when scanning.
const CHUNK: usize = 100;

/// Serves `query` over the index list `list` of `tenant`. `load` turns ids
/// into the visible items (dropping deleted or out-of-reach ones); `row`
/// gives an item's columns. A plain query reads one page of positions and
/// the kept count `count`; any other scans up to [`SCAN_CAP`] entries.
pub fn run<T>(
    kv: &dyn crate::be::kv::Kv,
    tenant: &str,
    list: &str,
    count: &str,
    query: &ListQuery,
    load: impl Fn(&[uuid::Uuid]) -> Result<Vec<T>>,
    row: impl Fn(T) -> Row<T>,
) -> Result<Page<T>> {
    if query.is_plain() {
        let skipped = i64::try_from(query.skipped()).unwrap_or(i64::MAX);
        let from = skipped.saturating_add(1);
        // An id listed twice (a user moved away and back, a move retried)
        // shows once.
        let mut seen = std::collections::HashSet::new();
        // The page's slots, the kept count and the index's length (pages are
        // cut from the index slots, so they count from its length): one read.
        let counters = [
            keys::count(tenant, count),
            keys::index_counter(tenant, list),
        ];
        let (slots, counted) = crate::be::storage::index_range_counted(
            kv,
            tenant,
            list,
            from,
            query.per_page,
            &counters,
        )?;
        let ids: Vec<uuid::Uuid> = slots
            .into_iter()
            .map(|(_, id)| id)
            .filter(|id| seen.insert(*id))
            .collect();
        let items = load(&ids)?;
        let total = counted[0].max(0) as usize;
        let end = counted[1].max(0);
        return Ok(Page {
            items,
            total,
            span: total.max(usize::try_from(end).unwrap_or(usize::MAX)),
            truncated: false,
        });
    }
    let len = crate::be::storage::index_len(kv, tenant, list)?.max(0) as usize;
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::new();
    let end = len.min(SCAN_CAP);
    let mut from = 1;
    while from <= end {
        let take = CHUNK.min(end + 1 - from);
        let ids: Vec<uuid::Uuid> =
            crate::be::storage::index_range(kv, tenant, list, from as i64, take)?
                .into_iter()
                .map(|(_, id)| id)
                .filter(|id| seen.insert(*id))
                .collect();
        rows.extend(load(&ids)?.into_iter().map(&row));
        from += take;
    }
    let (items, total) = select(rows, query);
    Ok(Page {
        items,
        total,
        span: total,
        truncated: len > SCAN_CAP,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::Error;

    #[test]
    fn wildcards() {
        assert!(wildcard("test*", "testing"));
        assert!(wildcard("*ing", "testing"));
        assert!(wildcard("t*t*g", "testing"));
        assert!(wildcard("192.168.*", "192.168.0.1"));
        assert!(!wildcard("test*", "a test"));
        assert!(wildcard("exact", "exact") && !wildcard("exact", "exact!"));
        assert!(wildcard("*", ""));
    }

    #[test]
    fn relative_ranges() {
        let now = time::parse_iso8601("2024-05-10T12:00:00Z").unwrap();
        let (s, e) = relative_range("10d", now).unwrap();
        assert_eq!(
            (time::format_millis(s).as_str(), e),
            ("2024-04-30T12:00:00.000Z", now)
        );
        let (s, e) = relative_range("1q2020", now).unwrap();
        assert_eq!(time::format_millis(s), "2020-01-01T00:00:00.000Z");
        assert_eq!(time::format_millis(e), "2020-03-31T23:59:59.999Z");
        let (s, _) = relative_range("2M", now).unwrap();
        assert_eq!(time::format_millis(s), "2024-03-10T12:00:00.000Z");
        let (s, _) = relative_range("30m", now).unwrap();
        assert_eq!(now - s, 30 * 60_000, "m is minutes, M is months");
        for bad in ["", "d", "10", "10x", "5q2020", "1q20", "0d", "1qabcd"] {
            assert!(relative_range(bad, now).is_none(), "{bad}");
        }
    }

    #[test]
    fn parse_names_the_bad_parameter() {
        let cols = ["name", "created_at"];
        let q = parse(
            Some("q[name]='test*'&sort_by=created_at:desc&page=2&per_page=5"),
            &cols,
            0,
        )
        .unwrap();
        assert_eq!(q.filters, vec![("name".into(), "test*".into())]);
        assert_eq!(q.sort, Some(("created_at".into(), true)));
        assert_eq!((q.page, q.per_page), (2, 5));
        assert!(parse(None, &cols, 0).unwrap().is_plain());
        for (query, field) in [
            ("q[secret]=x", "q[secret]"),
            ("sort_by=secret", "sort_by"),
            ("per_page=101", "per_page"),
            ("page=0", "page"),
            ("date_range_start=yesterday", "date_range_start"),
            ("relative_date_range=10x", "relative_date_range"),
            (
                "date_range_start=2024-02-01&date_range_end=2024-01-01",
                "date_range_end",
            ),
        ] {
            let Err(Error::Invalid(e)) = parse(Some(query), &cols, 0) else {
                panic!("{query}")
            };
            assert_eq!(e.fields(), vec![field], "{query}");
        }
    }

    #[test]
    fn select_filters_sorts_and_pages() {
        let rows: Vec<Row<u32>> = (0..30)
            .map(|i| Row {
                item: i,
                columns: vec![("name", format!("n{:02}", 29 - i))],
                date: i as i64,
            })
            .collect();
        let q = parse(
            Some("q[name]=n1*&sort_by=name&per_page=3&page=2"),
            &["name"],
            0,
        )
        .unwrap();
        let (page, total) = select(rows, &q);
        assert_eq!(total, 10);
        assert_eq!(page, vec![16, 15, 14]);
    }
}
