//! The campaign page in a real browser: headless Chromium loads pages that
//! `bpfdiff html` wrote and the test reads the DOM after the page's script
//! ran, checking that each chart drew one SVG mark per data point, and that
//! a summary without the schema-1 sections shows "no data" panels.
//!
//! Chromium comes from Debian's `chromium` package, which scripts/setup.sh
//! installs (CI runs setup.sh first). Without it this test fails: a browser
//! test that cannot start a browser has tested nothing.

mod common;

use common::{bpfdiff, Scratch};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one page may take to load and render.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// `BPFDIFF_CHROMIUM`, else the first of the usual names on `PATH`.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("BPFDIFF_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "Chromium not found (looked for chromium, chromium-browser, google-chrome on PATH, \
         and BPFDIFF_CHROMIUM): run scripts/setup.sh, which installs Debian's chromium package"
    );
}

/// The DOM of `page` after its scripts ran, as headless Chromium dumps it.
fn rendered_dom(page: &Path, scratch: &Scratch) -> String {
    let browser = chromium();
    // --no-sandbox: Chromium refuses to run as root with its sandbox, and
    // CI containers often lack the namespaces it needs; the page is our own.
    let mut child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.path().join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e}; run scripts/setup.sh to install Chromium",
                browser.display()
            )
        });
    let start = Instant::now();
    while child.try_wait().expect("wait for chromium").is_none() {
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("chromium output");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

/// The rendered `<section>` of chart `id`.
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("<section class=\"chart\" id=\"{id}\"");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no {id} panel in the DOM"));
    let end = start + dom[start..].find("</section>").expect("section closes");
    &dom[start..end]
}

fn page_of(fixture: &str, scratch: &Scratch) -> PathBuf {
    let summary = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/campaign_page")
        .join(fixture);
    let page = scratch.path().join(format!("{fixture}.html"));
    let out = bpfdiff(&[&"html", &summary, &"-o", &page]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "bpfdiff html: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    page
}

#[test]
fn every_chart_draws_its_data_in_chromium() {
    let s = Scratch::new("html-chromium-full");
    let dom = rendered_dom(&page_of("full.json", &s), &s);
    assert!(
        dom.contains("data-charts=\"done\""),
        "the script did not finish"
    );

    // full.json: 6 timeline points, each after an interval of positive length.
    let t = section(&dom, "throughput");
    assert!(t.contains("data-rendered=\"6\""), "throughput: {t}");
    assert_eq!(t.matches("<svg").count(), 1);
    assert_eq!(t.matches("<circle class=\"point\"").count(), 6, "{t}");
    assert!(t.contains("<polyline class=\"line\""), "{t}");
    // The first interval: 18,000 programs in 2 s.
    assert!(t.contains("2.0 s: 9000 programs/s"), "{t}");

    // 4 signatures: 2 new (red) first, then 2 known, each most frequent first.
    let g = section(&dom, "signatures");
    assert!(g.contains("data-rendered=\"4\""), "signatures: {g}");
    assert_eq!(g.matches("<rect class=\"bar new\"").count(), 2, "{g}");
    assert_eq!(g.matches("<rect class=\"bar known\"").count(), 2, "{g}");
    let at = |s: &str| g.find(s).unwrap_or_else(|| panic!("{s} not drawn"));
    let order = [
        at("rbpf-r0-1a2b3c4d"),
        at("kernel-verdict-5e6f7081"),
        at("rbpf-crash-99aabbcc"),
        at("rbpf-jit-memory-0badf00d"),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "bar order: {order:?}"
    );

    // 8 listed rows (7 hit, 1 with count 0) and 4 rows not listed of 12.
    let c = section(&dom, "coverage");
    assert!(c.contains("data-rendered=\"8\""), "coverage: {c}");
    assert_eq!(c.matches("class=\"cell hit\"").count(), 7, "{c}");
    assert_eq!(c.matches("class=\"cell unhit\"").count(), 1, "{c}");
    assert_eq!(c.matches("class=\"cell unhit unlisted\"").count(), 4, "{c}");
    assert!(c.contains("7 of 12 opcode rows hit (58.3%)"), "{c}");
    assert!(!dom.contains("class=\"chart-error\""), "a chart failed");
}

#[test]
fn a_summary_without_the_new_sections_shows_no_data_panels_in_chromium() {
    let s = Scratch::new("html-chromium-legacy");
    let dom = rendered_dom(&page_of("legacy.json", &s), &s);
    assert!(
        dom.contains("data-charts=\"done\""),
        "the script did not finish"
    );
    for id in ["throughput", "signatures", "coverage"] {
        let p = section(&dom, id);
        assert!(p.contains("data-rendered=\"0\""), "{id}: {p}");
        assert!(p.contains("class=\"no-data\">no data: "), "{id}: {p}");
        assert!(!p.contains("<svg"), "{id} drew a chart from nothing: {p}");
    }
}
