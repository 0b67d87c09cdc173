//! A JUnit XML form of a campaign summary, for CI systems: one test suite,
//! one test case for the campaign as a whole and one per new divergence
//! group (failed), and a skipped case when nothing was tested.

use super::tally::CampaignSummary;
use std::fmt::Write;

/// `text` escaped for XML attributes and text.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML document of `s`.
pub fn junit(s: &CampaignSummary) -> String {
    let idle = s.backends_that_ran_nothing();
    let nothing = !idle.is_empty() || s.compared_nothing();
    let mut cases = String::new();
    let name = format!("campaign seed {} tier {} shard {}", s.seed, s.tier, s.shard);
    let _ = write!(
        cases,
        "    <testcase classname=\"bpfdiff.campaign\" name=\"{}\" time=\"{:.3}\">",
        escape(&name),
        s.elapsed.as_secs_f64()
    );
    if nothing {
        let why = if idle.is_empty() {
            "no case was compared".to_string()
        } else {
            format!("backend {} ran none of the programs", idle.join(", "))
        };
        let _ = write!(cases, "<skipped message=\"{}\"/>", escape(&why));
    }
    let _ = writeln!(
        cases,
        "<system-out>{}</system-out></testcase>",
        escape(&s.to_string())
    );
    for ((backend, aspect), g) in &s.new {
        let _ = writeln!(
            cases,
            "    <testcase classname=\"bpfdiff.campaign.{}\" name=\"{} / {}\"><failure message=\"{} case(s); smallest is case {}: {}\"/></testcase>",
            escape(backend),
            escape(backend),
            escape(aspect),
            g.count,
            g.smallest.index,
            escape(&g.smallest.detail)
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"bpfdiff campaign\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">\n{cases}  </testsuite>\n</testsuites>\n",
        1 + s.new.len(),
        s.new.len(),
        u8::from(nothing),
        s.elapsed.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
