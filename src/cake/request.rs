//! Building the exact `UpdateConversion` request for each transport from the one parameter table.

use crate::update::{ConversionUpdate, Param, params_for};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::borrow::Cow;
use std::fmt::Write as _;

/// Everything but RFC 3986's unreserved characters is percent-encoded, so spaces, `+`, `&`, `=`,
/// `#`, `%`, quotes and non-ASCII arrive byte for byte whichever way the server decodes `+`.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How requests travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// HTTP GET with a query string (CAKE's sample call).
    Get,
    /// HTTP POST with an `application/x-www-form-urlencoded` body.
    Post,
    /// SOAP 1.1 (`text/xml` + `SOAPAction`).
    Soap,
    /// SOAP 1.2 (`application/soap+xml`).
    Soap12,
}

impl Transport {
    /// The name used on the command line and in the checkpoint.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Get => "get",
            Transport::Post => "post",
            Transport::Soap => "soap",
            Transport::Soap12 => "soap12",
        }
    }

    fn is_soap(self) -> bool {
        matches!(self, Transport::Soap | Transport::Soap12)
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where requests go: base URL, API version and transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Without a trailing slash, e.g. `https://admin.example-network.com`.
    pub base_url: String,
    pub version: u8,
    pub transport: Transport,
}

/// One ready-to-send request. `url` and `body` may contain the API key: never log them.
///
/// `Debug` is written by hand so that a `{:?}` anywhere (a log line, a panic, a test failure)
/// cannot print the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub post: bool,
    pub url: String,
    pub content_type: Option<String>,
    pub soap_action: Option<String>,
    pub body: Option<String>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("post", &self.post)
            .field("url", &"<redacted: holds the API key>")
            .field("content_type", &self.content_type)
            .field("soap_action", &self.soap_action)
            .field(
                "body",
                &self.body.as_ref().map(|_| "<redacted: holds the API key>"),
            )
            .finish()
    }
}

impl Endpoint {
    /// Builds an endpoint, dropping trailing slashes from the base URL.
    #[must_use]
    pub fn new(base_url: &str, version: u8, transport: Transport) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            version,
            transport,
        }
    }

    /// The SOAP namespace for this version.
    fn namespace(&self) -> String {
        format!("http://cakemarketing.com/api/{}/", self.version)
    }

    /// Builds the request exactly as it is sent. `api_key` is the only secret in it.
    #[must_use]
    pub fn build(&self, update: &ConversionUpdate, api_key: &str) -> Request {
        let values = wire_values(update, self.version, self.transport.is_soap(), api_key);
        match self.transport {
            Transport::Get => Request {
                post: false,
                url: format!(
                    "{}/api/{}/track.asmx/UpdateConversion?{}",
                    self.base_url,
                    self.version,
                    form_encode(&values)
                ),
                content_type: None,
                soap_action: None,
                body: None,
            },
            Transport::Post => Request {
                post: true,
                url: format!(
                    "{}/api/{}/track.asmx/UpdateConversion",
                    self.base_url, self.version
                ),
                content_type: Some("application/x-www-form-urlencoded".into()),
                soap_action: None,
                body: Some(form_encode(&values)),
            },
            Transport::Soap | Transport::Soap12 => {
                let ns = self.namespace();
                let action = format!("{ns}UpdateConversion");
                let soap12 = self.transport == Transport::Soap12;
                let (content_type, soap_action) = if soap12 {
                    (
                        format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
                        None,
                    )
                } else {
                    (
                        "text/xml; charset=utf-8".to_string(),
                        Some(format!("\"{action}\"")),
                    )
                };
                Request {
                    post: true,
                    url: format!("{}/api/{}/track.asmx", self.base_url, self.version),
                    content_type: Some(content_type),
                    soap_action,
                    body: Some(soap_envelope(&ns, soap12, &values)),
                }
            }
        }
    }

    /// The request as a person may see it: the key replaced by `***`.
    #[must_use]
    pub fn display(&self, update: &ConversionUpdate) -> String {
        let r = self.build(update, "***");
        let url = r.url.replace("api_key=%2A%2A%2A", "api_key=***");
        let mut out = format!("{} {url}", if r.post { "POST" } else { "GET" });
        if let Some(ct) = &r.content_type {
            let _ = write!(out, "\n  Content-Type: {ct}");
        }
        if let Some(a) = &r.soap_action {
            let _ = write!(out, "\n  SOAPAction: {a}");
        }
        if let Some(body) = &r.body {
            let body = body.replace("api_key=%2A%2A%2A", "api_key=***");
            let _ = write!(out, "\n  {body}");
        }
        out
    }
}

/// What an example request shows for an offer CAKE's reports will give (see [`wire_values`]).
pub(crate) const OFFER_FROM_CAKE: &str = "FROM_CAKE";

/// The value of every parameter for `version`, in table order, as wire text.
#[must_use]
pub(crate) fn wire_values<'a>(
    u: &'a ConversionUpdate,
    version: u8,
    soap: bool,
    api_key: &'a str,
) -> Vec<(&'static str, Cow<'a, str>)> {
    params_for(version)
        .map(|spec| {
            let v = match spec.param {
                Param::ApiKey => Cow::Borrowed(api_key),
                // The offer sent, which CAKE may have given (`wire_value` is the sheet's, the
                // row's identity). One still unknown is never sent: should it be by mistake,
                // this placeholder binds as no number, so CAKE refuses it before applying.
                Param::OfferId => u
                    .sent_offer()
                    .map_or(Cow::Borrowed(OFFER_FROM_CAKE), |o| o.to_string().into()),
                p => u.wire_value(p, soap),
            };
            (spec.name, v)
        })
        .collect()
}

/// `a=1&b=2`, every value percent-encoded.
fn form_encode(values: &[(&str, Cow<'_, str>)]) -> String {
    let mut out = String::with_capacity(512);
    for (i, (name, value)) in values.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.extend(utf8_percent_encode(value, QUERY));
    }
    out
}

fn soap_envelope(ns: &str, soap12: bool, values: &[(&str, Cow<'_, str>)]) -> String {
    let env_ns = if soap12 {
        "http://www.w3.org/2003/05/soap-envelope"
    } else {
        "http://schemas.xmlsoap.org/soap/envelope/"
    };
    let mut out = String::with_capacity(1024);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <soap:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:soap=\"{env_ns}\">\
         <soap:Body><UpdateConversion xmlns=\"{ns}\">"
    );
    for (name, value) in values {
        let _ = write!(
            out,
            "<{name}>{}</{name}>",
            quick_xml::escape::escape(value.as_ref())
        );
    }
    out.push_str("</UpdateConversion></soap:Body></soap:Envelope>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::{DispositionType, EffectiveDateOption, ReceivedOption};
    use rust_decimal::Decimal;

    /// The seed's sample call, as a typed update.
    fn seed_update() -> ConversionUpdate {
        ConversionUpdate {
            row: 2,
            offer_id: 55_378_197,
            offer: crate::update::Offer::Given,
            conversion_id: 707_658,
            request_session_id: 0,
            transaction_id: String::new(),
            payout: Decimal::new(20, 0),
            add_to_existing_payout: false,
            received: Decimal::new(30, 0),
            received_option: ReceivedOption::TotalRevenue,
            disposition_type: DispositionType::NoChange,
            disposition_id: 0,
            update_revshare_payout: true,
            effective_date_option: EffectiveDateOption::Today,
            custom_date: None,
            note_to_append: "example".into(),
            disallow_on_billing_status: "ignore".into(),
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        for t in [
            Transport::Get,
            Transport::Post,
            Transport::Soap,
            Transport::Soap12,
        ] {
            let r = Endpoint::new("https://x.example", 4, t).build(&seed_update(), "K3yS3cr3t");
            let shown = format!("{r:?} {r:#?}");
            assert!(!shown.contains("K3yS3cr3t"), "{t:?}: {shown}");
        }
    }

    #[test]
    fn get_v2_matches_the_seed_sample() {
        let e = Endpoint::new("https://demo.cakemarketing.com/", 2, Transport::Get);
        let r = e.build(&seed_update(), "dNJFmId9rI");
        assert_eq!(
            r.url,
            "https://demo.cakemarketing.com/api/2/track.asmx/UpdateConversion?api_key=dNJFmId9rI\
             &offer_id=55378197&conversion_id=707658&request_session_id=0&transaction_id=\
             &payout=20&add_to_existing_payout=false&received=30&received_option=total_revenue\
             &disposition_type=no_change&disposition_id=0&update_revshare_payout=true\
             &effective_date_option=today&custom_date=01%2F01%2F2001%2000%3A00%3A00\
             &note_to_append=example"
        );
        assert!(!r.post && r.body.is_none());
    }

    #[test]
    fn get_v4_adds_disallow_on_billing_status() {
        let e = Endpoint::new("http://127.0.0.1:1", 4, Transport::Get);
        let r = e.build(&seed_update(), "k");
        assert!(
            r.url
                .starts_with("http://127.0.0.1:1/api/4/track.asmx/UpdateConversion?api_key=k&")
        );
        assert!(
            r.url
                .ends_with("&note_to_append=example&disallow_on_billing_status=ignore")
        );
    }

    #[test]
    fn post_v2_body() {
        let e = Endpoint::new("http://h", 2, Transport::Post);
        let mut u = seed_update();
        u.note_to_append = "a b+c&d=e#f%g\"h'<i> é".into();
        u.transaction_id = "00871".into();
        let r = e.build(&u, "k");
        assert_eq!(r.url, "http://h/api/2/track.asmx/UpdateConversion");
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            r.body.as_deref(),
            Some(
                "api_key=k&offer_id=55378197&conversion_id=707658&request_session_id=0\
                 &transaction_id=00871&payout=20&add_to_existing_payout=false&received=30\
                 &received_option=total_revenue&disposition_type=no_change&disposition_id=0\
                 &update_revshare_payout=true&effective_date_option=today\
                 &custom_date=01%2F01%2F2001%2000%3A00%3A00\
                 &note_to_append=a%20b%2Bc%26d%3De%23f%25g%22h%27%3Ci%3E%20%C3%A9"
            )
        );
    }

    #[test]
    fn soap11_v2_envelope() {
        let e = Endpoint::new("http://h", 2, Transport::Soap);
        let mut u = seed_update();
        u.note_to_append = "<b>&\"x\"".into();
        u.effective_date_option = EffectiveDateOption::Custom;
        u.custom_date =
            chrono::NaiveDate::from_ymd_opt(2026, 9, 30).and_then(|d| d.and_hms_opt(14, 5, 0));
        let r = e.build(&u, "k");
        assert_eq!(r.url, "http://h/api/2/track.asmx");
        assert_eq!(r.content_type.as_deref(), Some("text/xml; charset=utf-8"));
        assert_eq!(
            r.soap_action.as_deref(),
            Some("\"http://cakemarketing.com/api/2/UpdateConversion\"")
        );
        assert_eq!(
            r.body.as_deref(),
            Some(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope \
                 xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
                 xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
                 xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>\
                 <UpdateConversion xmlns=\"http://cakemarketing.com/api/2/\"><api_key>k</api_key>\
                 <offer_id>55378197</offer_id><conversion_id>707658</conversion_id>\
                 <request_session_id>0</request_session_id><transaction_id></transaction_id>\
                 <payout>20</payout><add_to_existing_payout>false</add_to_existing_payout>\
                 <received>30</received><received_option>total_revenue</received_option>\
                 <disposition_type>no_change</disposition_type><disposition_id>0</disposition_id>\
                 <update_revshare_payout>true</update_revshare_payout>\
                 <effective_date_option>custom</effective_date_option>\
                 <custom_date>2026-09-30T14:05:00</custom_date>\
                 <note_to_append>&lt;b&gt;&amp;&quot;x&quot;</note_to_append>\
                 </UpdateConversion></soap:Body></soap:Envelope>"
            )
        );
    }

    #[test]
    fn soap12_v4_envelope() {
        let e = Endpoint::new("http://h", 4, Transport::Soap12);
        let r = e.build(&seed_update(), "k");
        assert_eq!(
            r.content_type.as_deref(),
            Some(
                "application/soap+xml; charset=utf-8; action=\"http://cakemarketing.com/api/4/UpdateConversion\""
            )
        );
        assert!(r.soap_action.is_none());
        let body = r.body.unwrap_or_default();
        assert!(body.contains("xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\""));
        assert!(body.contains("<UpdateConversion xmlns=\"http://cakemarketing.com/api/4/\">"));
        assert!(body.contains("<custom_date>2001-01-01T00:00:00</custom_date>"));
        assert!(body.ends_with(
            "<disallow_on_billing_status>ignore</disallow_on_billing_status></UpdateConversion></soap:Body></soap:Envelope>"
        ));
    }

    /// Renders a request fully (method, URL, headers, body) for the golden files.
    fn render(r: &Request) -> String {
        let mut out = format!("{} {}\n", if r.post { "POST" } else { "GET" }, r.url);
        if let Some(ct) = &r.content_type {
            let _ = writeln!(out, "Content-Type: {ct}");
        }
        if let Some(a) = &r.soap_action {
            let _ = writeln!(out, "SOAPAction: {a}");
        }
        if let Some(b) = &r.body {
            let _ = write!(out, "\n{b}\n");
        }
        out
    }

    /// Golden files: the exact request of every transport × version for a row that uses every
    /// parameter. `CAKE_RECON_BLESS=1 cargo test golden` rewrites them (review the diff!).
    #[test]
    fn golden_requests_every_transport_and_version() {
        let mut u = seed_update();
        u.request_session_id = 12;
        u.transaction_id = "00871 a+b&c".into();
        u.add_to_existing_payout = true;
        u.payout = Decimal::new(-1250, 2);
        u.received_option = ReceivedOption::AdditionalSaleAmount;
        u.disposition_type = DispositionType::Returned;
        u.disposition_id = 7;
        u.effective_date_option = EffectiveDateOption::Custom;
        u.custom_date =
            chrono::NaiveDate::from_ymd_opt(2026, 9, 3).and_then(|d| d.and_hms_opt(4, 5, 6));
        u.note_to_append = "50% \"bonus\" <Q3> & café\r\nline 2 #1 =".into();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
        let bless = std::env::var_os("CAKE_RECON_BLESS").is_some();
        for t in [
            Transport::Get,
            Transport::Post,
            Transport::Soap,
            Transport::Soap12,
        ] {
            for v in [2, 4] {
                let got = render(
                    &Endpoint::new("https://admin.example-network.com", v, t).build(&u, "KEY"),
                );
                let path = dir.join(format!("request-{}-v{v}.txt", t.as_str()));
                if bless {
                    std::fs::create_dir_all(&dir).unwrap();
                    std::fs::write(&path, &got).unwrap();
                }
                let want = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(got, want, "{}", path.display());
            }
        }
    }

    #[test]
    fn display_redacts_the_key() {
        for t in [
            Transport::Get,
            Transport::Post,
            Transport::Soap,
            Transport::Soap12,
        ] {
            let e = Endpoint::new("http://h", 2, t);
            let shown = e.display(&seed_update());
            assert!(
                shown.contains("api_key=***") || shown.contains("<api_key>***</api_key>"),
                "{shown}"
            );
        }
    }
}
