//! The signed-payload template: which bytes, in which order, a sender feeds its HMAC.
//!
//! A template such as `v0:{timestamp}:{body}` is parsed once at config load into
//! [`Piece`]s. At request time the verifier walks the pieces and feeds each slice straight
//! into the keyed MAC, so the payload is never assembled into a new buffer.

use std::fmt;

use http::HeaderName;

use super::Field;

/// One part of a signed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Fixed bytes, such as `v0:`.
    Literal(Box<[u8]>),
    /// The raw request body, exactly as received.
    Body,
    /// The timestamp exactly as the sender wrote it.
    Timestamp,
    /// The value of a request header (empty when absent).
    Header(HeaderName),
    /// The request method, e.g. `POST`.
    Method,
    /// The request path without the query.
    Path,
    /// The URL the sender posted to: the route's `public_url` followed by the request path
    /// and query.
    Url,
    /// A value read from the body (`{json:a.b}`, `{form:name}`); empty when absent.
    Field(Field),
    /// Every form field of the body, sorted by name then value, each written as name then
    /// value with nothing between (Twilio's form signature).
    FormSorted,
    /// The secret itself, for senders that sign a plain digest of it and the payload
    /// (`algorithm: sha256_digest`). Rendered only into the digest, never shown.
    Secret,
    /// The lowercase hex SHA-256 of the body (`{sha256:body}`).
    BodySha256,
    /// The CRC-32 (IEEE) of the body in decimal (`{crc32:body}`, PayPal). A checksum, not a
    /// hash: it does not bind the body against anyone holding a signed delivery.
    BodyCrc32,
    /// A query parameter, percent-decoded (`{query:NAME}`); a delivery that repeats it is
    /// refused, so the app cannot read another value than the one signed.
    Query(Box<str>),
    /// A query parameter, percent-decoded and ASCII-lowercased (`{query_lower:NAME}`,
    /// Mercado Pago's `data.id`); repeats are refused as for `{query:NAME}`.
    QueryLower(Box<str>),
    /// The route's `webhook_id` (`{webhook_id}`, PayPal's id of the subscription).
    WebhookId,
    /// The route's `public_url` and the request path, then `?` and the query parameters
    /// decoded and sorted (`name=value` joined by `&`), then `.` and the form fields as
    /// [`Piece::FormSorted`] writes them; the `?` appears when either part has something and
    /// the `.` only when both do (`{url_sorted_form}`, Plivo V3). A delivery that repeats a
    /// query parameter name, or a form field name with another value, is refused (an exact
    /// duplicate form pair counts once, as in `{form_sorted}`).
    UrlSortedForm,
}

impl Piece {
    /// The piece as a template writes it.
    pub fn written(&self) -> String {
        Template {
            pieces: Box::new([self.clone()]),
        }
        .to_string()
    }
}

/// A parsed signed-payload template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Box<[Piece]>,
}

/// Why a template string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{` without its closing `}`.
    #[error("unclosed `{{` at byte {0}; write `{{{{` for a literal brace")]
    Unclosed(usize),
    /// A `}` with no opening `{`.
    #[error("unmatched `}}` at byte {0}; write `}}}}` for a literal brace")]
    Unmatched(usize),
    /// A placeholder name that is not known.
    #[error(
        "unknown placeholder `{{{0}}}`; known: {{body}}, {{timestamp}}, {{method}}, {{path}}, {{url}}, {{header:NAME}}, {{query:NAME}}, {{query_lower:NAME}}, {{json:PATH}}, {{form:NAME}}, {{form_sorted}}, {{sha256:body}}, {{crc32:body}}, {{webhook_id}}, {{secret}}"
    )]
    Unknown(String),
    /// `{header:...}` with an invalid header name.
    #[error("`{{header:{0}}}` does not name a valid HTTP header")]
    BadHeader(String),
    /// `{json:...}` or `{form:...}` that names no field.
    #[error("{0}")]
    BadField(String),
}

impl Template {
    /// The default template: the body alone.
    pub fn body_only() -> Self {
        Template {
            pieces: Box::new([Piece::Body]),
        }
    }

    /// Parses a template. Placeholders are `{body}`, `{timestamp}`, `{method}`, `{path}`,
    /// `{url}`, `{header:NAME}`, `{query:NAME}`, `{query_lower:NAME}`, `{json:PATH}`,
    /// `{form:NAME}`, `{form_sorted}`, `{url_sorted_form}`, `{sha256:body}`, `{crc32:body}`,
    /// `{webhook_id}` and `{secret}`; `{{` and `}}` stand for literal braces.
    ///
    /// # Errors
    /// A [`TemplateError`] naming the first problem.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'{' if bytes.get(i + 1) == Some(&b'{') => {
                    literal.push(b'{');
                    i += 2;
                }
                b'}' if bytes.get(i + 1) == Some(&b'}') => {
                    literal.push(b'}');
                    i += 2;
                }
                b'}' => return Err(TemplateError::Unmatched(i)),
                b'{' => {
                    let end = text[i..].find('}').ok_or(TemplateError::Unclosed(i))? + i;
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal).into()));
                    }
                    pieces.push(Self::placeholder(&text[i + 1..end])?);
                    i = end + 1;
                }
                byte => {
                    literal.push(byte);
                    i += 1;
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal.into()));
        }
        Ok(Template {
            pieces: pieces.into(),
        })
    }

    fn placeholder(name: &str) -> Result<Piece, TemplateError> {
        Ok(match name {
            "body" => Piece::Body,
            "timestamp" => Piece::Timestamp,
            "method" => Piece::Method,
            "path" => Piece::Path,
            "url" => Piece::Url,
            "form_sorted" => Piece::FormSorted,
            "secret" => Piece::Secret,
            "sha256:body" => Piece::BodySha256,
            "crc32:body" => Piece::BodyCrc32,
            "webhook_id" => Piece::WebhookId,
            "url_sorted_form" => Piece::UrlSortedForm,
            _ if name.starts_with("query:") || name.starts_with("query_lower:") => {
                let (kind, param) = name.split_once(':').unwrap_or_default();
                if param.is_empty() || param.contains(['&', '=', '#', ' ']) {
                    return Err(TemplateError::BadField(format!(
                        "`{{{name}}}` does not name a query parameter"
                    )));
                }
                if kind == "query" {
                    Piece::Query(param.into())
                } else {
                    Piece::QueryLower(param.into())
                }
            }
            _ if name.starts_with("json:") || name.starts_with("form:") => {
                Piece::Field(Field::parse(name).map_err(TemplateError::BadField)?)
            }
            _ => match name.strip_prefix("header:") {
                Some(header) => Piece::Header(
                    HeaderName::try_from(header.trim())
                        .map_err(|_| TemplateError::BadHeader(header.to_owned()))?,
                ),
                None => return Err(TemplateError::Unknown(name.to_owned())),
            },
        })
    }

    /// The pieces in order.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Whether the template contains the given kind of piece.
    pub fn uses(&self, wanted: &Piece) -> bool {
        self.pieces.iter().any(|p| p == wanted)
    }

    /// The headers the template reads.
    pub fn headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Header(name) => Some(name),
            _ => None,
        })
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for piece in self.pieces.iter() {
            match piece {
                Piece::Literal(bytes) => {
                    let text = String::from_utf8_lossy(bytes);
                    f.write_str(&text.replace('{', "{{").replace('}', "}}"))?;
                }
                Piece::Body => f.write_str("{body}")?,
                Piece::Timestamp => f.write_str("{timestamp}")?,
                Piece::Method => f.write_str("{method}")?,
                Piece::Path => f.write_str("{path}")?,
                Piece::Url => f.write_str("{url}")?,
                Piece::FormSorted => f.write_str("{form_sorted}")?,
                Piece::Secret => f.write_str("{secret}")?,
                Piece::BodySha256 => f.write_str("{sha256:body}")?,
                Piece::BodyCrc32 => f.write_str("{crc32:body}")?,
                Piece::WebhookId => f.write_str("{webhook_id}")?,
                Piece::UrlSortedForm => f.write_str("{url_sorted_form}")?,
                Piece::Query(name) => write!(f, "{{query:{name}}}")?,
                Piece::QueryLower(name) => write!(f, "{{query_lower:{name}}}")?,
                Piece::Field(field) => write!(f, "{{{field}}}")?,
                Piece::Header(name) => write!(f, "{{header:{name}}}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_placeholders_and_literals() {
        let t = Template::parse("v0:{timestamp}:{body}").unwrap();
        assert_eq!(
            t.pieces(),
            &[
                Piece::Literal(b"v0:".to_vec().into()),
                Piece::Timestamp,
                Piece::Literal(b":".to_vec().into()),
                Piece::Body,
            ]
        );
        assert_eq!(t.to_string(), "v0:{timestamp}:{body}");
    }

    #[test]
    fn header_method_path_and_escaped_braces() {
        let t = Template::parse("{{{method}}} {path}|{header:X-Id}").unwrap();
        assert_eq!(
            t.pieces(),
            &[
                Piece::Literal(b"{".to_vec().into()),
                Piece::Method,
                Piece::Literal(b"} ".to_vec().into()),
                Piece::Path,
                Piece::Literal(b"|".to_vec().into()),
                Piece::Header(HeaderName::from_static("x-id")),
            ]
        );
        assert_eq!(t.to_string(), "{{{method}}} {path}|{header:x-id}");
    }

    #[test]
    fn refuses_bad_templates() {
        assert_eq!(Template::parse("{body"), Err(TemplateError::Unclosed(0)));
        assert_eq!(Template::parse("a}b"), Err(TemplateError::Unmatched(1)));
        assert_eq!(
            Template::parse("{bodyy}"),
            Err(TemplateError::Unknown("bodyy".into()))
        );
        assert_eq!(
            Template::parse("{header:bad name}"),
            Err(TemplateError::BadHeader("bad name".into()))
        );
    }

    #[test]
    fn url_and_body_fields() {
        let t = Template::parse("{method}{url}{json:a.b}{form:x}{form_sorted}{url_sorted_form}")
            .unwrap();
        assert!(t.uses(&Piece::Field(Field::parse("json:a.b").unwrap())));
        assert!(t.uses(&Piece::UrlSortedForm));
        assert_eq!(
            t.to_string(),
            "{method}{url}{json:a.b}{form:x}{form_sorted}{url_sorted_form}"
        );
        assert!(matches!(
            Template::parse("{json:}"),
            Err(TemplateError::BadField(_))
        ));
    }

    #[test]
    fn derived_and_query_pieces_parse_and_print_back() {
        let text = "{query:data.id}|{sha256:body}|{crc32:body}|{webhook_id}|{query_lower:d}";
        let t = Template::parse(text).unwrap();
        assert_eq!(t.pieces()[0], Piece::Query("data.id".into()));
        assert_eq!(t.pieces()[8], Piece::QueryLower("d".into()));
        assert_eq!(t.to_string(), text);
        for bad in [
            "{query:}",
            "{query:a=b}",
            "{query:a&b}",
            "{md5:body}",
            "{query_lower:}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_template_is_empty() {
        assert!(Template::parse("").unwrap().pieces().is_empty());
    }
}
