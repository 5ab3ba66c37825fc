//! Blocking HTTP for the testkit, safe inside async tests: each call runs on a scoped
//! thread with its own `reqwest::blocking` client, so it never nests a tokio runtime.

use anyhow::{Context as _, Result};

/// A response read to the end.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Sends one request and reads the whole response. Redirects are not followed.
pub(crate) fn send(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<Vec<u8>>,
) -> Result<Response> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .with_context(|| format!("HTTP method `{method}`"))?;
    let url = url.to_owned();
    std::thread::scope(|scope| {
        scope
            .spawn(move || -> Result<Response> {
                if rustls::crypto::CryptoProvider::get_default().is_none() {
                    let _ = rustls::crypto::ring::default_provider().install_default();
                }
                let client = reqwest::blocking::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(std::time::Duration::from_secs(30))
                    .build()?;
                let mut request = client.request(method.clone(), &url);
                for (key, value) in &headers {
                    request = request.header(key, value);
                }
                if let Some(body) = body {
                    request = request.body(body);
                }
                let response = request
                    .send()
                    .with_context(|| format!("{method} `{url}`"))?;
                let status = response.status().as_u16();
                let headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                let body = response.bytes()?.to_vec();
                Ok(Response {
                    status,
                    headers,
                    body,
                })
            })
            .join()
            .map_err(|_| anyhow::anyhow!("HTTP thread panicked"))?
    })
}
