//! Values inside the body, for schemes that sign or carry fields there. The body is parsed
//! at most once per request, and only when a scheme asks for a field.

use std::borrow::Cow;
use std::cell::OnceCell;

use super::Body;
use super::multipart;
use crate::form;
use crate::scheme::Field;

/// The most fields a form body may have to be read as one. Senders that sign form fields
/// send a few dozen (Twilio, Slack, Mailgun).
pub(crate) const MAX_FORM_FIELDS: usize = 1024;

/// Decoded form fields, `(name, value)`, sorted.
type FormFields = Vec<(Vec<u8>, Vec<u8>)>;

/// Lazily parsed views of one body.
pub(crate) struct BodyFields<'a> {
    body: Body<'a>,
    /// The body in one piece, made when a field is first read.
    whole: OnceCell<Cow<'a, [u8]>>,
    content_type: &'a [u8],
    json: OnceCell<Option<serde_json::Value>>,
    form: OnceCell<Option<FormFields>>,
}

impl<'a> BodyFields<'a> {
    /// Views of `body`, sent with `content_type` (empty when absent): a
    /// `multipart/form-data` body's text fields are its form fields.
    pub(crate) fn new(body: Body<'a>, content_type: &'a [u8]) -> BodyFields<'a> {
        BodyFields {
            body,
            whole: OnceCell::new(),
            content_type,
            json: OnceCell::new(),
            form: OnceCell::new(),
        }
    }

    /// The field's value: a JSON string's text, a number or boolean as written, or a form
    /// field's decoded value. `None` when the body does not parse or lacks the field.
    pub(crate) fn get(&self, field: &Field) -> Option<Cow<'_, [u8]>> {
        match field {
            Field::Json(path) => json_value(self.json().as_ref()?, path),
            Field::Form(name) => {
                // A repeated field is ambiguous (which copy does the app read?): refused, as
                // repeated signature headers are.
                let mut values = self.form()?.iter().filter(|(k, _)| k == name.as_bytes());
                let (_, value) = values.next()?;
                values.next().is_none().then_some(Cow::Borrowed(&value[..]))
            }
        }
    }

    /// Every form field, sorted by name then value; empty when the body is not a form.
    pub(crate) fn form_sorted(&self) -> &[(Vec<u8>, Vec<u8>)] {
        self.form().map_or(&[], Vec::as_slice)
    }

    /// Whether the body parses as a form.
    pub(crate) fn is_form(&self) -> bool {
        self.form().is_some()
    }

    fn whole(&self) -> &[u8] {
        self.whole.get_or_init(|| self.body.contiguous())
    }

    fn json(&self) -> &Option<serde_json::Value> {
        self.json
            .get_or_init(|| serde_json::from_slice(self.whole()).ok())
    }

    fn form(&self) -> Option<&FormFields> {
        self.form
            .get_or_init(|| {
                // Counted before anything is decoded or allocated: a forged megabyte of tiny
                // fields costs one pass over the bytes, not a quarter-million allocations.
                let body = self.whole();
                let mut pairs =
                    match multipart::text_fields(body, self.content_type, MAX_FORM_FIELDS) {
                        Some(fields) => fields,
                        None => {
                            let separators = body.iter().filter(|&&b| b == b'&').count();
                            if separators >= MAX_FORM_FIELDS {
                                return None;
                            }
                            form::pairs(body)?
                        }
                    };
                pairs.sort();
                pairs.dedup(); // Twilio signs each distinct name and value once.
                Some(pairs)
            })
            .as_ref()
    }
}

/// The scalar at `path` under `value`. A `*` segment takes every item of an array: the
/// result is the value all of them hold, and `None` when any differs or lacks it.
fn json_value<'v>(value: &'v serde_json::Value, path: &[Box<str>]) -> Option<Cow<'v, [u8]>> {
    let Some((segment, rest)) = path.split_first() else {
        return match value {
            serde_json::Value::String(s) => Some(Cow::Borrowed(s.as_bytes())),
            serde_json::Value::Number(n) => Some(Cow::Owned(n.to_string().into_bytes())),
            serde_json::Value::Bool(b) => Some(Cow::Owned(b.to_string().into_bytes())),
            _ => None,
        };
    };
    match value {
        serde_json::Value::Array(items) if &**segment == "*" => {
            let mut shared: Option<Cow<'v, [u8]>> = None;
            for item in items {
                let this = json_value(item, rest)?;
                match &shared {
                    Some(seen) if *seen != this => return None,
                    Some(_) => {}
                    None => shared = Some(this),
                }
            }
            shared
        }
        serde_json::Value::Object(map) => json_value(map.get(&**segment)?, rest),
        serde_json::Value::Array(items) => {
            json_value(items.get(segment.parse::<usize>().ok()?)?, rest)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(body: &str, field: &str) -> Option<String> {
        let fields = BodyFields::new(body.as_bytes().into(), b"");
        fields
            .get(&Field::parse(field).unwrap())
            .map(|v| String::from_utf8(v.into_owned()).unwrap())
    }

    #[test]
    fn json_paths_reach_strings_numbers_and_array_items() {
        let body = r#"{"signature":{"token":"t\u00e9","timestamp":"17"},"webhookTimestamp":1700000000123,"value":[{"clientState":"s"}],"ok":true,"n":null}"#;
        assert_eq!(get(body, "json:signature.token").unwrap(), "té");
        assert_eq!(get(body, "json:webhookTimestamp").unwrap(), "1700000000123");
        assert_eq!(get(body, "json:value.0.clientState").unwrap(), "s");
        assert_eq!(get(body, "json:ok").unwrap(), "true");
        for missing in [
            "json:n",
            "json:signature",
            "json:value.1.clientState",
            "json:x.y",
            "json:value.a",
        ] {
            assert_eq!(get(body, missing), None, "{missing}");
        }
        assert_eq!(get("not json", "json:a"), None);
        let batch = r#"{"value":[{"s":"ok"},{"s":"ok"},{"s":"ok"}]}"#;
        assert_eq!(get(batch, "json:value.*.s").unwrap(), "ok");
        let mixed = r#"{"value":[{"s":"ok"},{"s":"forged"}]}"#;
        assert_eq!(get(mixed, "json:value.*.s"), None, "items disagree");
        let partial = r#"{"value":[{"s":"ok"},{"t":"x"}]}"#;
        assert_eq!(get(partial, "json:value.*.s"), None, "an item lacks it");
        assert_eq!(get(r#"{"value":[]}"#, "json:value.*.s"), None, "no items");
    }

    #[test]
    fn form_fields_are_decoded_and_sorted() {
        let body = "To=%2B1555&From=%2B1666&Body=hi+there&A=2&A=1";
        assert_eq!(get(body, "form:Body").unwrap(), "hi there");
        assert_eq!(get(body, "form:A"), None, "a repeated field is ambiguous");
        let fields = BodyFields::new(body.as_bytes().into(), b"");
        let names: Vec<_> = fields
            .form_sorted()
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(v)
                )
            })
            .collect();
        assert_eq!(names, ["A1", "A2", "Bodyhi there", "From+1666", "To+1555"]);
        assert!(
            BodyFields::new(b"a=%zz".into(), b"")
                .form_sorted()
                .is_empty()
        );
        let many = "a=1&".repeat(MAX_FORM_FIELDS);
        assert!(
            !BodyFields::new(many.as_bytes().into(), b"").is_form(),
            "too many fields"
        );
        let enough = "a=1&".repeat(MAX_FORM_FIELDS - 1);
        assert!(BodyFields::new(enough.as_bytes().into(), b"").is_form());
    }
}
