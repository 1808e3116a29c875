//! `POST /api/pass/createNewUser` (seed 003): an enterprise subscriber
//! account, i.e. an organization tagged with its reseller and its primary
//! user, with the vendor's strict field rules; and the reference data it is
//! validated against (`signUpHelper`, `countryList`, `stateList`).
//!
//! Choices where the vendor is silent (see the README): names are Unicode
//! letters only; an organization name is letters and digits with single
//! spaces between words; `countryCode` may start with `+`; `resellerCode` ""
//! tags no reseller (the account is the caller's own then); `zipcode` is a
//! JSON number or a digit string of at most 12 digits.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde_json::{Map, Value};

use super::{Envelope, account_type, authenticate, render_error};
use crate::base::error::{Error, FieldErrors};
use crate::base::model::{OrgKind, Profile, ReferenceData, Role, Settings};
use crate::be::storage::Env;
use crate::credential::identity::Config;
use crate::edge::web::{self, Request, Response, header_str};
use crate::idm::provision::{self, NewCustomer, NewOrg, NewUser, OpId};
use crate::{base::validate, idm::admin, idm::reference};

/// The longest value of the text fields.
const TEXT_MAX: usize = 255;

/// Reads the request's fields, naming every one that breaks a rule.
struct Fields<'a> {
    body: &'a Map<String, Value>,
    errors: FieldErrors,
}

impl Fields<'_> {
    /// A required (or optional) string, trimmed; numbers are read as their
    /// digits (the vendor's sample sends `zipcode` as a number).
    fn text(&mut self, name: &str, required: bool, max: usize) -> Option<String> {
        let value = match self.body.get(name) {
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            None | Some(Value::Null) => None,
            Some(_) => {
                self.errors.add(name, "must be a string");
                return None;
            }
        };
        match value.filter(|v| !v.is_empty()) {
            None if required => {
                self.errors.add(name, "is required");
                None
            }
            None => None,
            Some(v) if v.chars().count() > max => {
                self.errors
                    .add(name, format!("should not exceed {max} characters"));
                Some(v)
            }
            Some(v) => Some(v),
        }
    }

    fn number(&mut self, name: &str) -> Option<f64> {
        let n = match self.body.get(name) {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            None | Some(Value::Null) => {
                self.errors.add(name, "is required");
                return None;
            }
            Some(_) => None,
        };
        if n.is_none() {
            self.errors.add(name, "must be a number");
        }
        n
    }

    fn check(&mut self, name: &str, ok: bool, message: &str) {
        if !ok {
            self.errors.add(name, message);
        }
    }
}

fn letters(s: &str) -> bool {
    s.chars().all(char::is_alphabetic)
}

fn words_of_letters_and_digits(s: &str) -> bool {
    s.split(' ')
        .all(|w| !w.is_empty() && w.chars().all(char::is_alphanumeric))
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The validated account request.
struct NewAccount {
    input: NewCustomer,
    reseller_code: String,
}

/// Seed 003's body as `parse` reads it (its `Contact` and `Place` are what
/// `parse` fills; the other fields it keeps in locals, so that the shipped
/// reader's code is what it was before this type). The derived schema is
/// the document's, and a test feeds its instances to `parse`: what depends on the tenant's reference data
/// (signUpHelper's currencies, tax categories, tax types and regions, the
/// mobile number's length) or on another field (a state of the country, a
/// taxation id by its type's rules) is said in descriptions, and the
/// parser decides.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct CreateNewUserBody {
    #[schemars(flatten)]
    pub contact: Contact,
    /// The tenant's Apiculus password policy: by default 8 to 128
    /// characters with an upper and a lower case letter, a digit and a
    /// symbol.
    #[schemars(required, length(min = 1, max = 128), extend("type" = "string"))]
    pub password: Option<String>,
    /// A region signUpHelper lists.
    #[schemars(rename = "acsRegion", length(max = 255))]
    pub region: Option<String>,
    #[schemars(flatten)]
    pub place: Place,
    /// A currency signUpHelper lists.
    #[schemars(required, regex(pattern = "^[A-Z]{3}$"), extend("type" = "string"))]
    pub currency: Option<String>,
    /// A tax category signUpHelper lists.
    #[schemars(required, length(max = 255), regex(pattern = r"\S"), extend("type" = "string"))]
    pub tax_category: Option<String>,
    #[schemars(flatten)]
    pub taxes: Taxes,
    /// Whole days.
    #[schemars(range(min = 1, max = 30))]
    pub credit_period: i64,
    #[schemars(range(min = 0))]
    pub credit_limit: f64,
    /// The code of one of the tenant's resellers ("" for none: the account
    /// is the caller's own).
    #[schemars(rename = "resellerCode")]
    pub reseller_code: String,
}

/// `tax_type1..3` and `taxation_id1..3` (the parser keeps the pairs
/// given).
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct Taxes {
    /// A tax type signUpHelper lists; its taxation id follows its rules.
    #[schemars(length(max = 255))]
    pub tax_type1: Option<String>,
    /// Needs tax_type1.
    #[schemars(length(max = 255))]
    pub taxation_id1: Option<String>,
    #[schemars(length(max = 255))]
    pub tax_type2: Option<String>,
    /// Needs tax_type2.
    #[schemars(length(max = 255))]
    pub taxation_id2: Option<String>,
    #[schemars(length(max = 255))]
    pub tax_type3: Option<String>,
    /// Needs tax_type3.
    #[schemars(length(max = 255))]
    pub taxation_id3: Option<String>,
}

fn parse(body: &Map<String, Value>, settings: &Settings) -> Result<NewAccount, Error> {
    let reference: &ReferenceData = &settings.reference;
    let mut f = Fields {
        body,
        errors: FieldErrors::default(),
    };
    let Contact {
        fname,
        lname,
        organization,
        email,
        country_code,
        mobile,
    } = contact_fields(&mut f, reference);
    let password = match body.get("password") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => {
            f.errors.add("password", "is required");
            None
        }
    };
    if let Some(pw) = &password {
        for problem in crate::credential::password::check(pw, settings.password_policy("apiculus"))
        {
            f.errors.add("password", problem);
        }
    }
    let region = f.text("acsRegion", false, TEXT_MAX);
    if let Some(v) = &region {
        f.check(
            "acsRegion",
            reference.regions.iter().any(|r| r == v),
            "is not one of the regions signUpHelper lists",
        );
    }
    let Place {
        address,
        city,
        country,
        state,
        zipcode,
    } = place_fields(&mut f);
    let currency = f.text("currency", true, 3);
    if let Some(v) = &currency {
        f.check(
            "currency",
            reference.currencies.iter().any(|c| c == v),
            "is not a supported currency",
        );
    }
    let category = f.text("tax_category", true, TEXT_MAX);
    if let Some(v) = &category {
        f.check(
            "tax_category",
            reference.tax_categories.iter().any(|c| c.value == *v),
            "is not a tax category signUpHelper lists",
        );
    }
    let taxes = tax_fields(&mut f, reference);
    let (credit_period, credit_limit) = credit_fields(&mut f);
    let reseller_code = match body.get("resellerCode") {
        Some(Value::String(s)) => s.trim().to_string(),
        _ => {
            f.errors.add("resellerCode", "is required");
            String::new()
        }
    };
    f.errors.into_result()?;

    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let details = account_details(
        &[
            ("address", text(&address)),
            ("city", text(&city)),
            ("state", text(&state)),
            ("country", text(&country)),
            ("zipcode", text(&zipcode)),
            ("currency", text(&currency)),
            ("tax_category", text(&category)),
            ("acsRegion", text(&region)),
            ("countryCode", text(&country_code)),
            ("mobileNumber", text(&mobile)),
            (
                "credit_period",
                credit_period.map(|p| p.to_string()).unwrap_or_default(),
            ),
            (
                "credit_limit",
                credit_limit.map(|l| l.to_string()).unwrap_or_default(),
            ),
            ("resellerCode", reseller_code.clone()),
        ],
        taxes,
    );
    let dial = text(&country_code);
    let dial = dial.strip_prefix('+').unwrap_or(&dial).to_string();
    let name = text(&organization);
    Ok(NewAccount {
        input: NewCustomer {
            organization: Some(NewOrg {
                name: name.clone(),
                company_name: Some(name),
                details,
                ..NewOrg::default()
            }),
            user: NewUser {
                email: text(&email),
                profile: Profile {
                    first_name: fname,
                    last_name: lname,
                    mobile_phone: Some(format!("+{dial}{}", text(&mobile))),
                    address,
                    city,
                    state,
                    country,
                    zipcode,
                    ..Profile::default()
                },
                confirmed: true,
                password,
                ..NewUser::default()
            },
            enterprise: true,
            password_family: Some("apiculus".into()),
            ..NewCustomer::default()
        },
        reseller_code,
    })
}

/// Who the account is: names (letters only), organization, email and a
/// mobile number of the tenant's length behind a known calling code.
#[derive(Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Contact {
    #[cfg_attr(feature = "openapi", schemars(required, length(max = 255), regex(pattern = "^[A-Za-z]+$"), extend("type" = "string")))]
    pub fname: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(required, length(max = 255), regex(pattern = "^[A-Za-z]+$"), extend("type" = "string")))]
    pub lname: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(rename = "organization_name", required, length(max = 255), regex(pattern = "^[A-Za-z0-9]+( [A-Za-z0-9]+)*$"), extend("type" = "string")))]
    pub organization: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(required, email, length(min = 1, max = 255), extend("type" = "string")))]
    pub email: Option<String>,
    /// A country calling code, with or without +.
    #[cfg_attr(
        feature = "openapi",
        schemars(rename = "countryCode", required, with = "CallingCode")
    )]
    pub country_code: Option<String>,
    /// Exactly the tenant's number of mobile digits (10 unless configured).
    #[cfg_attr(feature = "openapi", schemars(rename = "mobileNumber", required, regex(pattern = "^[0-9]{10}$"), extend("type" = "string")))]
    pub mobile: Option<String>,
}

#[cfg(feature = "openapi")]
crate::base::schema::schema_type!(
    /// `reference::is_calling_code`, with or without `+`.
    CallingCode, {
    let mut codes: Vec<String> = reference::countries()
        .into_iter()
        .map(|c| c.phone.to_string())
        .filter(|d| reference::is_calling_code(d))
        .collect();
    codes.sort();
    codes.dedup();
    serde_json::json!({"type": "string", "pattern": format!("^\\+?({})$", codes.join("|"))})
});

#[cfg(feature = "openapi")]
crate::base::schema::schema_type!(
    /// `zipcode`: a JSON number or a digit string of at most 12 digits.

    Zipcode,
    serde_json::json!({"anyOf": [{"type": "string", "pattern": "^[0-9]{1,12}$"},
        {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_u64}]})
);

fn contact_fields(f: &mut Fields, reference: &ReferenceData) -> Contact {
    let fname = f.text("fname", true, TEXT_MAX);
    if let Some(v) = &fname {
        f.check("fname", letters(v), "only alphabets allowed");
    }
    let lname = f.text("lname", true, TEXT_MAX);
    if let Some(v) = &lname {
        f.check("lname", letters(v), "only alphabets allowed");
    }
    let organization = f.text("organization_name", true, TEXT_MAX);
    if let Some(v) = &organization {
        f.check(
            "organization_name",
            words_of_letters_and_digits(v),
            "only alphanumeric characters allowed",
        );
    }
    let email = f.text("email", true, TEXT_MAX);
    if let Some(v) = &email {
        f.check(
            "email",
            validate::email(v).is_ok(),
            "is not a valid email address",
        );
    }
    let country_code = f.text("countryCode", true, 4);
    if let Some(v) = &country_code {
        let dial = v.strip_prefix('+').unwrap_or(v);
        f.check(
            "countryCode",
            reference::is_calling_code(dial),
            "is not a known country calling code",
        );
    }
    let mobile = f.text("mobileNumber", true, 20);
    if let Some(v) = &mobile {
        let n = reference.mobile_digits as usize;
        f.check(
            "mobileNumber",
            digits(v) && v.len() == n,
            &format!("must be exactly {n} digits"),
        );
    }
    Contact {
        fname,
        lname,
        organization,
        email,
        country_code,
        mobile,
    }
}

/// Where the account is: its address, and a country and state stateList
/// lists (the state by code or name).
#[derive(Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Place {
    #[cfg_attr(feature = "openapi", schemars(required, length(max = 255), regex(pattern = r"\S"), extend("type" = "string")))]
    pub address: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(required, length(max = 255), regex(pattern = r"\S"), extend("type" = "string")))]
    pub city: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schemars(required, with = "crate::base::schema::CountryCode")
    )]
    pub country: Option<String>,
    /// A Subdivision_Code (or name) stateList lists for the country.
    #[cfg_attr(feature = "openapi", schemars(required, length(max = 255), regex(pattern = r"\S"), extend("type" = "string")))]
    pub state: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<Zipcode>"))]
    pub zipcode: Option<String>,
}

fn place_fields(f: &mut Fields) -> Place {
    let address = f.text("address", true, TEXT_MAX);
    let city = f.text("city", true, TEXT_MAX);
    let country = f.text("country", true, 2);
    let known_country = country.as_deref().and_then(reference::country);
    if country.is_some() && known_country.is_none() {
        f.errors
            .add("country", "is not a Country_Code that stateList lists");
    }
    let state = f.text("state", true, TEXT_MAX);
    if let (Some(s), Some(c)) = (&state, &known_country) {
        let subdivisions = reference::subdivisions(&c.code);
        f.check(
            "state",
            subdivisions.iter().any(|d| d.code == *s || d.name == *s),
            "is not a Subdivision_Code (or name) that stateList lists for the country",
        );
    }
    let zipcode = f.text("zipcode", false, 12);
    if let Some(v) = &zipcode {
        f.check("zipcode", digits(v), "only numbers allowed");
    }
    Place {
        address,
        city,
        country,
        state,
        zipcode,
    }
}

/// `credit_period` (whole days, 1 to 30) and `credit_limit` (0 or more).
fn credit_fields(f: &mut Fields) -> (Option<f64>, Option<f64>) {
    let credit_period = f.number("credit_period");
    if let Some(p) = credit_period {
        f.check(
            "credit_period",
            p.fract() == 0.0 && (1.0..=30.0).contains(&p),
            "must be a whole number between 1 and 30",
        );
    }
    let credit_limit = f.number("credit_limit");
    if let Some(l) = credit_limit {
        f.check("credit_limit", l >= 0.0, "must be 0 or more");
    }
    (credit_period, credit_limit)
}

/// `tax_type1..3` and `taxation_id1..3`: each type one signUpHelper lists,
/// each id by its type's rules. Returns `(n, type, id)` of the ones given.
fn tax_fields(f: &mut Fields, reference: &ReferenceData) -> Vec<(u8, String, String)> {
    let mut taxes = Vec::new();
    for n in 1..=3 {
        let type_field = format!("tax_type{n}");
        let id_field = format!("taxation_id{n}");
        let kind = f.text(&type_field, false, TEXT_MAX);
        let id = f.text(&id_field, false, TEXT_MAX);
        let Some(kind) = kind else {
            if id.is_some() {
                f.errors.add(&id_field, format!("needs {type_field}"));
            }
            continue;
        };
        let Some(tax) = reference.tax_types.iter().find(|t| t.name == kind) else {
            f.errors
                .add(&type_field, "is not a tax type signUpHelper lists");
            continue;
        };
        let rules = tax.validation;
        match &id {
            None if rules.required => f.errors.add(&id_field, "is required"),
            None => {}
            Some(v) => {
                if rules.alpha_num && !v.chars().all(|c| c.is_ascii_alphanumeric()) {
                    f.errors
                        .add(&id_field, "only alphanumeric characters allowed");
                }
                let len = v.chars().count();
                if len < rules.min || len > rules.max {
                    f.errors.add(
                        &id_field,
                        format!("must be {} to {} characters", rules.min, rules.max),
                    );
                }
            }
        }
        taxes.push((n, kind, id.unwrap_or_default()));
    }
    taxes
}

/// The organization's details: the non-empty `fields`, then each tax pair.
fn account_details(
    fields: &[(&str, String)],
    taxes: Vec<(u8, String, String)>,
) -> BTreeMap<String, String> {
    let mut details = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        if !v.is_empty() {
            details.insert(k.to_string(), v);
        }
    };
    for (k, v) in fields {
        put(k, v.clone());
    }
    for (n, kind, id) in taxes {
        put(&format!("tax_type{n}"), kind);
        put(&format!("taxation_id{n}"), id);
    }
    details
}

/// The core's field names in this family's (`user.email` → `email`).
fn vendor_fields(error: Error) -> Error {
    match error {
        Error::Invalid(mut fields) => {
            for e in &mut fields.0 {
                if let Some(rest) = e.field.strip_prefix("user.") {
                    e.field = rest.to_string();
                }
            }
            Error::Invalid(fields)
        }
        other => other,
    }
}

/// `createNewUser`'s `result`.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Created {
    /// The account id, `<prefix>-E<seq>`
    pub id: Option<String>,
    pub email: String,
}

/// `POST /api/pass/createNewUser`: admin tokens only (403 otherwise); 200
/// with the envelope and `result: {id, email}`, the account id
/// `<prefix>-E<seq>`. With `Idempotency-Key`, a repeat of a completed
/// request answers its stored result with `replayed: true` and creates
/// nothing; the same key with another body is 422; while the first is still
/// running, 409.
pub fn create_new_user(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::POST {
            return Err(Error::MethodNotAllowed(vec![Method::POST]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        if account_type(caller.role) < 11 {
            return Err(Error::Forbidden("an admin token is required".into()));
        }
        let body = web::json_object(req)?;
        let settings = provision::load_settings(env.kv, &caller.tenant)?;
        let mut account = parse(&body, &settings)?;
        if !account.reseller_code.is_empty() {
            let reseller = admin::reseller_by_code(env, &caller.tenant, &account.reseller_code)?
                .filter(|o| {
                    o.kind == OrgKind::Reseller && caller.reaches(o) && o.status.may_authenticate()
                })
                .ok_or_else(|| {
                    Error::invalid("resellerCode", "does not name a reseller of this tenant")
                })?;
            if let Some(org) = account.input.organization.as_mut() {
                org.parent = Some(reseller.id);
            }
        } else if caller.role == Role::ResellerAdmin
            && let Some(org) = account.input.organization.as_mut()
        {
            org.parent = caller.org;
        }
        let fingerprint =
            crate::credential::identity::fingerprint(config, &Value::Object(body).to_string());
        let op = match header_str(req, "idempotency-key").map(str::trim) {
            Some(k) if !k.is_empty() && k.len() <= 255 => OpId::keyed(&caller, k, fingerprint),
            Some(_) => {
                return Err(Error::invalid(
                    "Idempotency-Key",
                    "must be 1 to 255 characters",
                ));
            }
            None => OpId::fresh(env, fingerprint),
        };
        let correlation = env.correlation.clone();
        let created = provision::create_customer(
            env,
            &caller,
            &account.input,
            &op,
            config.hash_params(),
            correlation,
        )
        .map_err(vendor_fields)?;
        let body = Envelope {
            replayed: created.replayed,
            ..Envelope::ok(
                crate::be::storage::derived_uuid(&op.id, "job"),
                Created {
                    id: created.user.account_code,
                    email: created.user.email,
                },
            )
        };
        Ok(web::serialized(StatusCode::OK, &body))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `signUpHelper`'s `result`: the tenant's reference data.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SignUpHelper<'a> {
    pub currency: &'a [String],
    #[serde(rename = "acsRegion")]
    pub acs_region: &'a [String],
    pub tax_category: Vec<TaxCategory<'a>>,
    pub tax_types: &'a [crate::base::model::TaxType],
}

/// A tax category under Apiculus' names.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaxCategory<'a> {
    pub display_text: &'a str,
    pub value: &'a str,
}

/// `GET /api/pass/signUpHelper`: the tenant's reference data (admin tokens).
pub fn sign_up_helper(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::GET {
            return Err(Error::MethodNotAllowed(vec![Method::GET]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        if account_type(caller.role) < 11 {
            return Err(Error::Forbidden("an admin token is required".into()));
        }
        let r = provision::load_settings(env.kv, &caller.tenant)?.reference;
        let result = SignUpHelper {
            currency: &r.currencies,
            acs_region: &r.regions,
            tax_category: r
                .tax_categories
                .iter()
                .map(|c| TaxCategory {
                    display_text: &c.display_text,
                    value: &c.value,
                })
                .collect(),
            tax_types: &r.tax_types,
        };
        Ok(web::serialized(
            StatusCode::OK,
            &Envelope::ok(env.new_uuid(), result),
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `GET /api/v1/countryList` (no credential): ISO 3166-1 countries. A
/// country's `objectId` (what `stateList` takes) is its alpha-2 code here.
pub fn country_list(req: &Request, _env: &mut Env, _config: &Config) -> Response {
    if req.method() != Method::GET {
        return render_error(&Error::MethodNotAllowed(vec![Method::GET]));
    }
    let all = reference::countries();
    let countries = all
        .iter()
        .map(|c| Country {
            id: &c.code,
            object_id: &c.code,
            code: &c.code,
            name: &c.name,
            phone: &c.phone,
            currency: &c.currency,
            v: 0,
        })
        .collect();
    let body = Listed {
        result: Countries { countries },
    };
    web::serialized(StatusCode::OK, &body)
}

/// `countryList` and `stateList` answer `{"result": ...}`, no envelope.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Listed<T> {
    pub result: T,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Countries<'a> {
    pub countries: Vec<Country<'a>>,
}

/// A country as the vendor's store shows it; its `objectId` (what
/// `stateList` takes) is its alpha-2 code here.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Country<'a> {
    #[serde(rename = "_id")]
    pub id: &'a str,
    #[serde(rename = "objectId")]
    pub object_id: &'a str,
    /// ISO 3166-1 alpha-2
    pub code: &'a str,
    pub name: &'a str,
    /// The calling code, without `+`
    pub phone: &'a str,
    /// ISO 4217
    pub currency: &'a str,
    #[serde(rename = "__v")]
    pub v: u8,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct States<'a> {
    pub state: Vec<State<'a>>,
}

/// An ISO 3166-2 subdivision under the vendor's names (`Subdivion_Type`
/// is its spelling).
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[allow(non_snake_case, reason = "the vendor's field names")]
pub struct State<'a> {
    /// `<country>-<subdivision>`
    pub _id: String,
    #[serde(rename = "objectId")]
    pub object_id: &'a str,
    pub Country_Code: &'a str,
    pub Subdivision_Code: &'a str,
    pub Subdivision_Name: &'a str,
    pub Subdivion_Type: &'a str,
    pub __v: u8,
}

/// What [`state_list`] reads.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct StateListQuery {
    /// The country's objectId (ISO 3166-1 alpha-2, upper case; unknown: 404)
    #[schemars(regex(pattern = "^[A-Z]{2}$"))]
    pub code: String,
}

/// `GET /api/v1/stateList?code=<objectId>` (no credential): the country's
/// ISO 3166-2 subdivisions; an unknown country is 404.
pub fn state_list(req: &Request, _env: &mut Env, _config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::GET {
            return Err(Error::MethodNotAllowed(vec![Method::GET]));
        }
        let code = req
            .uri()
            .query()
            .into_iter()
            .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| Error::invalid("code", "is required"))?;
        let country = reference::country(&code)
            .ok_or_else(|| Error::NotFound(format!("no country {code}")))?;
        let all = reference::subdivisions(&country.code);
        let state = all
            .iter()
            .map(|s| State {
                _id: format!("{}-{}", country.code, s.code),
                object_id: &country.code,
                Country_Code: &country.code,
                Subdivision_Code: &s.code,
                Subdivision_Name: &s.name,
                Subdivion_Type: &s.kind,
                __v: 0,
            })
            .collect();
        Ok(web::serialized(
            StatusCode::OK,
            &Listed {
                result: States { state },
            },
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use crate::base::model::Settings;

    /// The fields of seed 003 (and a stranger).
    const FIELDS: &[&str] = &[
        "fname",
        "lname",
        "email",
        "organization_name",
        "countryCode",
        "mobileNumber",
        "password",
        "acsRegion",
        "address",
        "city",
        "state",
        "country",
        "zipcode",
        "currency",
        "tax_category",
        "tax_type1",
        "taxation_id1",
        "tax_type2",
        "taxation_id2",
        "tax_type3",
        "taxation_id3",
        "credit_period",
        "credit_limit",
        "resellerCode",
        "x",
    ];

    proptest! {
        /// The Apiculus field rules: any body of its fields, with any
        /// values, is an account or per-field errors, never a panic.
        #[test]
        fn any_body_is_an_account_or_field_errors(body in crate::props::object_with_keys(FIELDS)) {
            let _ = super::parse(&body, &Settings::default());
        }
    }
}

#[cfg(test)]
#[cfg(feature = "openapi")]
mod tests {
    use serde_json::json;

    use crate::base::model::Settings;
    use crate::base::schema::samples::accepted;
    use crate::idm::reference;

    /// Every instance the derived schema allows, the parser accepts, once
    /// the fields the schema leaves to the tenant's reference data (said in
    /// their descriptions) hold values from it.
    #[test]
    fn what_the_schema_allows_the_parser_accepts() {
        let settings = Settings::default();
        let data = &settings.reference;
        let state = reference::subdivisions("GR")[0].code.to_string();
        let from_data = [
            ("currency", json!(data.currencies[0])),
            ("tax_category", json!(data.tax_categories[0].value)),
            ("acsRegion", json!(data.regions[0])),
            ("state", json!(state)),
            ("tax_type1", json!("GSTIN")),
            ("taxation_id1", json!("ABCDE12345")),
            ("tax_type2", json!("CNPJ")),
            ("taxation_id2", json!("ABCDEFGHIJK12")),
            ("tax_type3", json!("GSTIN")),
            ("taxation_id3", json!("ABCDE12345")),
        ];
        accepted::<super::CreateNewUserBody>(|sample| {
            for (name, value) in &from_data {
                if let Some(field) = sample.get_mut(*name)
                    && !field.is_null()
                {
                    *field = value.clone();
                }
            }
            super::parse(sample, &settings).is_ok()
        });
    }
}
