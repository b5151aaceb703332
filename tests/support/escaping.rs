//! What the HTML-escaping tests of the crates' pages share (the dev provider's, the axum
//! crate's and the web example's): a value a hostile claim, provider error or form field could
//! carry, its escaped form, and a response body as text. Included with `#[path]` in their unit
//! tests.

use axum::response::Response;

/// Markup, both quotes and an ampersand.
pub const HOSTILE: &str = r#"<script>alert("x" & 'y')</script>"#;
/// [`HOSTILE`] as askama escapes it.
pub const ESCAPED: &str = "&#60;script&#62;alert(&#34;x&#34; &#38; &#39;y&#39;)&#60;/script&#62;";

/// The whole body of `response` (at most 1 MiB) as UTF-8.
pub async fn text(response: Response) -> String {
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}
