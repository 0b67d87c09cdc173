//! The page's HTML: a header table written here, and three chart panels
//! that the inline script (`page.js`) fills with SVG from the summary, which
//! is embedded as JSON. Nothing is fetched: the page works from a file, in
//! a CI artifact, offline.

use super::summary::CampaignPageData;
use std::fmt::Write;

/// The page's style sheet, inlined.
const STYLE: &str = include_str!("page.css");
/// The page's chart script, inlined.
const SCRIPT: &str = include_str!("page.js");

/// The three chart panels: element id, heading, what "no data" means.
pub const CHARTS: [(&str, &str); 3] = [
    ("throughput", "Programs per second over time"),
    ("signatures", "Findings by signature"),
    ("coverage", "Opcode-row coverage"),
];

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that is safe inside a `<script>` element: `<`, `>` and `&` are
/// written as `\u003c` etc., which JSON reads back unchanged, so no text of
/// the summary can close the element.
fn script_json(data: &CampaignPageData) -> String {
    let json = serde_json::to_string(data).expect("the page data is plain JSON");
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn row(out: &mut String, name: &str, value: Option<String>) {
    let value = value.unwrap_or_else(|| "<span class=\"missing\">not recorded</span>".into());
    let _ = writeln!(out, "<tr><th>{}</th><td>{value}</td></tr>", esc(name));
}

fn header_table(d: &CampaignPageData) -> String {
    let mut t = String::from("<table class=\"facts\">\n");
    row(&mut t, "seed", d.seed_text().map(|s| esc(&s)));
    row(&mut t, "tier", d.tier.as_deref().map(esc));
    row(
        &mut t,
        "backends",
        d.backends.as_ref().map(|b| esc(&b.join(", "))),
    );
    row(&mut t, "programs", d.programs.map(|p| p.to_string()));
    row(&mut t, "elapsed", d.elapsed_s.map(|s| format!("{s:.1} s")));
    row(
        &mut t,
        "programs/s",
        d.programs_per_s.map(|r| format!("{r:.0}")),
    );
    let divergences = match (d.diverge_new, d.diverge_known) {
        (None, None) => None,
        (n, k) => Some(format!(
            "{} new, {} known",
            n.map_or("?".into(), |v| v.to_string()),
            k.map_or("?".into(), |v| v.to_string())
        )),
    };
    row(&mut t, "divergences", divergences);
    if let Some(env) = &d.environment {
        for (key, value) in env {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => "unknown".to_string(),
                other => other.to_string(),
            };
            row(&mut t, key, Some(esc(&text)));
        }
    } else {
        row(&mut t, "environment", None);
    }
    t.push_str("</table>\n");
    t
}

/// The page of one campaign summary.
pub fn render(data: &CampaignPageData) -> String {
    let title = format!(
        "bpfdiff campaign {}{}",
        data.tier.as_deref().unwrap_or("(tier not recorded)"),
        data.seed_text()
            .map(|s| format!(", seed {s}"))
            .unwrap_or_default()
    );
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = esc(&title)
    );
    out.push_str(&header_table(data));
    for (id, heading) in CHARTS {
        let _ = writeln!(
            out,
            "<section class=\"chart\" id=\"{id}\">\n<h2>{heading}</h2>\n\
             <div class=\"plot\"><noscript>The charts need JavaScript.</noscript></div>\n</section>"
        );
    }
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"campaign-data\">{}</script>\n\
         <script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        script_json(data)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(json: &str) -> String {
        render(&CampaignPageData::parse(json).unwrap())
    }

    #[test]
    fn the_page_fetches_nothing() {
        let html = page(r#"{"schema":1,"tier":"mix"}"#);
        for needle in [
            "src=",
            "href=",
            "<link",
            "@import",
            "url(",
            "fetch(",
            "XMLHttpRequest",
        ] {
            assert!(!html.contains(needle), "the page contains {needle:?}");
        }
        for (id, _) in CHARTS {
            assert!(html.contains(&format!("<section class=\"chart\" id=\"{id}\">")));
        }
    }

    #[test]
    fn summary_text_cannot_break_out_of_the_page() {
        let html = page(
            r#"{"tier":"<b>x</b>","signatures":[{"signature":"</script><script>alert(1)</script>","count":1,"known":false,"rule":null}]}"#,
        );
        assert!(!html.contains("<b>x</b>"));
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert_eq!(
            html.matches("</script>").count(),
            2,
            "only the page's own two scripts close"
        );
        let start = html.find("id=\"campaign-data\">").unwrap() + "id=\"campaign-data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let back: CampaignPageData = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(
            back.signatures.unwrap()[0].signature,
            "</script><script>alert(1)</script>"
        );
    }

    #[test]
    fn missing_facts_say_so() {
        let html = page("{}");
        assert!(html.contains("<tr><th>programs</th><td><span class=\"missing\">not recorded"));
        assert!(html.contains("<tr><th>environment</th>"));
    }
}
