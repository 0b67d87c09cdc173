//! JUnit XML for `bpfdiff replay --junit FILE`: one test case per replayed
//! case; `changed` and `fixed` are failures (both need a human), `not-run`
//! is skipped.

use super::{CaseResult, Status};
use crate::environment::Environment;

/// `text` escaped for an XML attribute or text node.
pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => s.push(' '),
            c => s.push(c),
        }
    }
    s
}

/// The JUnit document for `results`.
pub fn junit(results: &[CaseResult], env: &Environment) -> String {
    let failures = results
        .iter()
        .filter(|r| matches!(r.status, Status::Changed | Status::Fixed))
        .count();
    let skipped = results
        .iter()
        .filter(|r| r.status == Status::NotRun)
        .count();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"bpfdiff replay\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n  <properties><property name=\"environment\" value=\"{}\"/></properties>\n",
        results.len(),
        escape(&env.header())
    );
    for r in results {
        let body = escape(&r.reasons.join("\n"));
        let first = escape(r.reasons.first().map_or("", String::as_str));
        xml.push_str(&format!(
            "  <testcase classname=\"replay\" name=\"{}\">",
            escape(&r.path)
        ));
        match r.status {
            Status::Changed | Status::Fixed => xml.push_str(&format!(
                "<failure type=\"{}\" message=\"{first}\">{body}</failure>",
                r.status.name()
            )),
            Status::NotRun => xml.push_str(&format!("<skipped message=\"{first}\"/>")),
            Status::AsRecorded => xml.push_str(&format!("<system-out>{body}</system-out>")),
        }
        xml.push_str("</testcase>\n");
    }
    xml.push_str("</testsuite>\n");
    xml
}
