//! A repository's tags: `GET /v2/<name>/tags/list`, following `Link: <…>; rel="next"`
//! pages on the registry's own origin, with a cap on pages and tags.

use portcullis_reference::ImageRef;
use reqwest::header::{HeaderMap, LINK};
use reqwest::{Method, Url};
use serde::Deserialize;

use crate::client::{check_status, Access, Client};
use crate::error::RegistryError;
use crate::transport::{read_capped, redact_query};

/// Pages followed at most (at 1,000 tags a page).
const MAX_PAGES: usize = 100;
/// One page's body at most.
const MAX_PAGE_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl Client {
    /// Every tag of `image`'s repository, in the registry's order.
    pub async fn list_tags(&self, image: &ImageRef) -> Result<Vec<String>, RegistryError> {
        let mut url = self.url(image, "tags/list")?;
        url.query_pairs_mut().append_pair("n", "1000");
        let origin = url.origin();
        let counters = self.counters();
        let mut tags = Vec::new();
        for _ in 0..MAX_PAGES {
            let response = self
                .send_scoped(
                    Method::GET,
                    image,
                    &Access::Pull,
                    url.clone(),
                    HeaderMap::new(),
                    None,
                    &counters.manifest_requests,
                )
                .await?;
            let response = check_status(response, image, &url)?;
            let next = next_page(response.headers(), &url);
            let body = read_capped(response, &url, MAX_PAGE_BYTES).await?;
            let page: Page =
                serde_json::from_slice(&body).map_err(|e| RegistryError::InvalidManifest {
                    url: redact_query(&url),
                    reason: format!("the tag list is not JSON: {e}"),
                })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                // Pages stay on the registry: a `Link` elsewhere is not followed.
                Some(next) if next.origin() == origin => url = next,
                _ => return Ok(tags),
            }
        }
        Err(RegistryError::InvalidManifest {
            url: redact_query(&url),
            reason: format!("more than {MAX_PAGES} pages of tags"),
        })
    }
}

/// The `rel="next"` target of a `Link` header, resolved against the request.
fn next_page(headers: &HeaderMap, url: &Url) -> Option<Url> {
    let link = headers.get(LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.replace(' ', "").contains("rel=\"next\"") {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        url.join(target).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn next_page_links_resolve_against_the_request() {
        let url = Url::parse("https://r.example/v2/a/tags/list?n=1000").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static("</v2/a/tags/list?n=1000&last=b>; rel=\"next\""),
        );
        assert_eq!(
            next_page(&headers, &url).unwrap().as_str(),
            "https://r.example/v2/a/tags/list?n=1000&last=b"
        );
        headers.insert(LINK, HeaderValue::from_static("</x>; rel=\"prev\""));
        assert_eq!(next_page(&headers, &url), None);
    }
}
