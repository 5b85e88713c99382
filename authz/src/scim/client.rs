//! The HTTP side of SCIM (RFC 7644): one client per target, its bearer
//! token attached to each request and never printed, every answer sorted
//! into success or one [`Failure`] the worker knows how to retry.

use super::Target;
use crate::secret::Secret;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

use tollgate_wire::scim as answer;
pub use tollgate_wire::scim::Failure;

/// A SCIM client for one target.
pub struct ScimClient {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

const SCIM_JSON: &str = "application/scim+json";

impl ScimClient {
    /// A client with `timeout` per request. Redirects are not followed:
    /// the bearer token must not travel to another host.
    pub fn new(target: &Target, timeout: Duration) -> Result<ScimClient, String> {
        let builder =
            crate::tls::with_ca_file(reqwest::Client::builder(), target.ca_file.as_deref())
                .map_err(|e| format!("scim target {:?}: ca_file: {e}", target.name))?;
        let http = builder
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION"), " scim"))
            .build()
            .map_err(|e| format!("scim target {:?}: HTTP client: {e}", target.name))?;
        Ok(ScimClient {
            http,
            base: target.base_url.trim_end_matches('/').to_string(),
            token: target.token.clone(),
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), Failure> {
        let what = format!("{method} {path}");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .query(query)
            .bearer_auth(self.token.expose())
            .header(
                reqwest::header::ACCEPT,
                "application/scim+json, application/json",
            );
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
                .body(b.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::Target(format!("{what}: {}", transport_error(&e))))?;
        let status = resp.status();
        // A body cut off (the target stopped mid-answer) is a transport
        // failure like a refused connection, and says so: "request failed"
        // and the cause, not only reqwest's "error decoding response body".
        let text = resp.text().await.map_err(|e| {
            Failure::Target(format!(
                "{what}: reading the answer: {}",
                transport_error(&e)
            ))
        })?;
        // Everything read from the answer goes through `tollgate_wire::scim`.
        let json = answer::body(&text);
        if status.is_success() {
            return Ok((status, json));
        }
        Err(answer::classify(status, &json, &text, &what))
    }

    /// POST to `/Users` or `/Groups`; the created resource.
    pub async fn create(&self, endpoint: &str, body: &Value) -> Result<Value, Failure> {
        let (_, v) = self.send(Method::POST, endpoint, &[], Some(body)).await?;
        if answer::resource_id(&v).is_none() {
            return Err(Failure::Resource(format!(
                "POST {endpoint}: the answer has no `id`"
            )));
        }
        Ok(v)
    }

    /// PUT the whole resource.
    pub async fn replace(&self, endpoint: &str, id: &str, body: &Value) -> Result<(), Failure> {
        let mut body = body.clone();
        body["id"] = Value::from(id);
        self.send(Method::PUT, &resource_path(endpoint, id), &[], Some(&body))
            .await
            .map(|_| ())
    }

    /// PATCH with a PatchOp message.
    pub async fn patch(&self, endpoint: &str, id: &str, body: &Value) -> Result<(), Failure> {
        self.send(Method::PATCH, &resource_path(endpoint, id), &[], Some(body))
            .await
            .map(|_| ())
    }

    /// GET one resource.
    pub async fn get(&self, endpoint: &str, id: &str) -> Result<Value, Failure> {
        self.send(Method::GET, &resource_path(endpoint, id), &[], None)
            .await
            .map(|(_, v)| v)
    }

    /// The first resource matching `attr eq "value"`, if any.
    pub async fn find(
        &self,
        endpoint: &str,
        attr: &str,
        value: &str,
    ) -> Result<Option<Value>, Failure> {
        let filter = format!("{attr} eq {}", Value::from(value));
        let (_, v) = self
            .send(Method::GET, endpoint, &[("filter", filter.as_str())], None)
            .await?;
        Ok(answer::first_resource(&v).cloned())
    }

    /// Whether the target announces PATCH support in `/ServiceProviderConfig`.
    pub async fn patch_supported(&self) -> Result<bool, Failure> {
        let (_, v) = self
            .send(Method::GET, "/ServiceProviderConfig", &[], None)
            .await
            .map_err(|f| match f {
                Failure::Gone => Failure::Target(format!(
                    "GET {}/ServiceProviderConfig: 404: base_url must be the SCIM base URL (the one ending in /scim/v2 for vCenter)",
                    self.base
                )),
                f => f,
            })?;
        Ok(answer::patch_supported(&v))
    }
}

fn resource_path(endpoint: &str, id: &str) -> String {
    format!(
        "{endpoint}/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    )
}

/// A transport error without anything the URL might carry beyond host and path.
fn transport_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The whole chain: hyper's outer errors ("client error (SendRequest)")
    // only say where, the innermost says what ("connection refused").
    let mut out = kind.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    if let Some(hint) = crate::tls::unknown_issuer_hint(&out) {
        out.push_str(" (");
        out.push_str(hint);
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A target that sends its status line and headers, then goes away
    /// in the middle of the body (stopped mid-answer): the worker is told
    /// the request failed and why, as for a refused connection.
    #[tokio::test]
    async fn an_answer_cut_off_is_a_failed_request() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.1 201 Created\r\nContent-Type: application/scim+json\r\nContent-Length: 400\r\n\r\n{\"id\":")
                .unwrap();
        });
        let target = Target {
            name: "cut".into(),
            base_url: format!("http://127.0.0.1:{port}/v2"),
            token: Secret::new("t"),
            groups: vec![],
            ca_file: None,
            profile: Default::default(),
        };
        let client = ScimClient::new(&target, Duration::from_secs(5)).unwrap();
        let e = client
            .create("/Users", &serde_json::json!({"userName": "a"}))
            .await
            .unwrap_err();
        server.join().unwrap();
        let Failure::Target(why) = e else {
            panic!("a transport failure, retried: {e:?}")
        };
        assert!(
            why.starts_with("POST /Users: reading the answer: request failed: "),
            "{why}"
        );
    }
}
