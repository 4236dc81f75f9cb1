//! HTML by hand: one escaping function every value passes through, and the page frame.
//!
//! Nothing from a sheet reaches a page but through [`esc`]; the frame carries a strict
//! Content-Security-Policy (see `server.rs`), so even a missed escape could not run a script.

use std::fmt::Write as _;

/// Escapes text for HTML element content and double-quoted attributes.
#[must_use]
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A whole page: the header with the product and the target, the main content, the script.
#[must_use]
pub(super) fn page(title: &str, target: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · cake-recon</title>\n\
         <link rel=\"stylesheet\" href=\"/static/style.css\">\n\
         <script src=\"/static/app.js\" defer></script>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\n\
         <header class=\"top\"><a class=\"brand\" href=\"/\">cake-recon</a>\
         <span class=\"target\">sending to <strong>{target}</strong></span></header>\n\
         <main id=\"main\">\n{body}\n</main>\n</body>\n</html>\n",
        title = esc(title),
        target = esc(target),
    )
}

/// The name of the CSRF field every form carries (also accepted as `?csrf=` and `X-CSRF-Token`).
pub(super) const CSRF_FIELD: &str = "csrf_token";

/// A `<form method=post>` carrying the CSRF token twice: in its action (checked before the
/// body is read) and as the first field (the conventional place).
#[must_use]
pub(super) fn form_open(action: &str, csrf: &str, extra: &str) -> String {
    let sep = if action.contains('?') { '&' } else { '?' };
    format!(
        "<form method=\"post\" action=\"{}{sep}csrf={}\"{extra}>\
         <input type=\"hidden\" name=\"{}\" value=\"{}\">",
        esc(action),
        esc(csrf),
        CSRF_FIELD,
        esc(csrf)
    )
}

/// A table from a header and rows of already-escaped cells.
#[must_use]
pub(super) fn table(caption: &str, head: &[&str], rows: &[Vec<String>], class: &str) -> String {
    let mut out = format!(
        "<table class=\"{class}\"><caption>{}</caption><thead><tr>",
        esc(caption)
    );
    for h in head {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A short notice box: `kind` is `ok`, `warn` or `error`.
#[must_use]
pub(super) fn notice(kind: &str, html: &str) -> String {
    let role = if kind == "error" {
        " role=\"alert\""
    } else {
        ""
    };
    format!("<div class=\"notice {kind}\"{role}>{html}</div>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_text_cannot_become_markup() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(esc("a\u{1b}b"), "a\\u{1b}b");
    }
}
