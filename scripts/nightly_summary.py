#!/usr/bin/env python3
"""Writes the nightly run's summary from what scripts/nightly.sh left in DIR.

    scripts/nightly_summary.py DIR --seed N --budget SECONDS

Reads DIR/steps.tsv (one line per step: name, status, exit code, seconds,
detail) and the step outputs (replay.json, campaign.json, triage.json, the
fuzz logs), and writes DIR/summary.md, DIR/summary.json, DIR/junit.xml (the
replay and campaign JUnit suites merged, plus one suite of the steps) and
DIR/exit_code: 1 when a step found something, else 2 when a step failed to
run, else 3 when a step tested nothing, else 0.
"""

import argparse
import datetime
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

EXIT = {"finding": 1, "error": 2, "nothing-tested": 3}


def load_json(path):
    """The JSON at path, or None when absent or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_steps(out):
    steps = []
    with open(os.path.join(out, "steps.tsv"), encoding="utf-8") as f:
        for line in f:
            name, status, code, secs, detail = line.rstrip("\n").split("\t", 4)
            steps.append(
                {
                    "step": name,
                    "status": status,
                    "exit_code": int(code),
                    "seconds": int(secs),
                    "detail": detail,
                }
            )
    return steps


def replay_facts(out, steps):
    """Replay's summary line; backends it could not run make the step
    nothing-tested (the nightly promises every backend)."""
    r = load_json(os.path.join(out, "replay.json"))
    if r is None:
        return None
    facts = {
        "summary": r.get("summary"),
        "backends": r.get("backends"),
        "unavailable": r.get("unavailable", []),
        "not_as_recorded": [
            {"path": c.get("path"), "status": c.get("status"), "reasons": c.get("reasons", [])}
            for c in r.get("cases", [])
            if c.get("status") != "as-recorded"
        ],
    }
    for s in steps:
        if s["step"] == "replay" and s["status"] == "ok" and facts["unavailable"]:
            names = ", ".join(
                f"{u.get('backend')} ({u.get('why')})" for u in facts["unavailable"]
            )
            s["status"] = "nothing-tested"
            s["detail"] = f"backend(s) not run: {names}"
    return facts


def fuzz_facts(out, steps):
    facts = {}
    for s in steps:
        if not s["step"].startswith("fuzz "):
            continue
        target = s["step"][5:]
        last = None
        try:
            with open(os.path.join(out, "logs", f"fuzz-{target}.log"), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if re.match(r"#\d+", line):
                        last = line
        except OSError:
            pass
        m = re.match(r"#(\d+)", last or "")
        rate = re.search(r"exec/s: (\d+)", last or "")
        facts[target] = {
            "executions": int(m.group(1)) if m else 0,
            "exec_per_s": int(rate.group(1)) if rate else None,
        }
        if s["status"] == "ok" and not m:
            s["status"] = "nothing-tested"
    return facts


def campaign_facts(out, steps):
    c = load_json(os.path.join(out, "campaign.json"))
    if c is None:
        return None
    keep = ["seed", "tier", "backends", "programs", "elapsed_s", "programs_per_s",
            "diverge_new", "diverge_known", "inconclusive"]
    facts = {k: c.get(k) for k in keep if k in c}
    for s in steps:
        if s["step"] == "campaign" and s["status"] == "ok" and not c.get("programs"):
            s["status"] = "nothing-tested"
            s["detail"] = "the campaign ran zero programs"
    return facts


def triage_facts(out):
    t = load_json(os.path.join(out, "triage.json"))
    if t is None:
        return None
    new = [g for g in t if g.get("status") == "new-report-written"]
    return {
        "groups": len(t),
        "new_reports": [g.get("report") for g in new],
        "new_signatures": [g.get("canonical") or g.get("signature") for g in new],
    }


def log_tail(out, step, lines=8):
    """The last lines of the step's log, for harness errors."""
    name = {"replay": "replay.log", "campaign": "campaign.log", "triage": "triage.log",
            "page": "html.log", "build": "build.log", "fuzz": "build-fuzz.log"}.get(step)
    if step.startswith("fuzz "):
        name = f"fuzz-{step[5:]}.out"
    if not name:
        return []
    try:
        with open(os.path.join(out, "logs", name), encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()[-lines:]
    except OSError:
        return []


def verdict(steps):
    codes = {EXIT.get(s["status"], 0) for s in steps}
    for code in (1, 2, 3):
        if code in codes:
            return code
    return 0


def suites_of(path):
    """The <testsuite> elements of a JUnit file (none when absent)."""
    if not os.path.exists(path):
        return []
    root = ET.parse(path).getroot()
    if root.tag == "testsuite":
        return [root]
    return list(root.iter("testsuite"))


def write_junit(out, steps):
    suites = []
    for name in ("replay-junit.xml", "campaign-junit.xml"):
        try:
            suites.extend(suites_of(os.path.join(out, name)))
        except ET.ParseError as e:
            broken = ET.Element("testsuite", name=name, tests="1", failures="0", errors="1")
            case = ET.SubElement(broken, "testcase", name=name, classname="nightly")
            ET.SubElement(case, "error", message=f"unreadable JUnit file: {e}")
            suites.append(broken)
    mine = ET.Element("testsuite", name="nightly steps")
    failures = errors = 0
    for s in steps:
        case = ET.SubElement(mine, "testcase", name=s["step"], classname="nightly",
                             time=str(s["seconds"]))
        if s["status"] in ("finding", "nothing-tested"):
            failures += 1
            ET.SubElement(case, "failure", message=f"{s['status']}: {s['detail']}")
        elif s["status"] == "error":
            errors += 1
            ET.SubElement(case, "error", message=s["detail"])
        elif s["status"] == "skipped":
            ET.SubElement(case, "skipped", message=s["detail"])
    mine.set("tests", str(len(steps)))
    mine.set("failures", str(failures))
    mine.set("errors", str(errors))
    suites.append(mine)
    root = ET.Element("testsuites", name="bpfdiff nightly")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for suite in suites:
        for k in totals:
            totals[k] += int(suite.get(k, "0") or 0)
        root.append(suite)
    for k, v in totals.items():
        root.set(k, str(v))
    ET.ElementTree(root).write(os.path.join(out, "junit.xml"), encoding="utf-8",
                               xml_declaration=True)


def markdown(summary, out):
    verdicts = {0: "clean", 1: "NEW FINDING or changed regression", 2: "HARNESS ERROR",
                3: "NOTHING TESTED somewhere"}
    code = summary["exit_code"]
    lines = [
        f"# bpfdiff nightly {summary['date']}: {verdicts[code]} (exit {code})",
        "",
        f"Seed {summary['seed']}, budget {summary['budget_s']} s, bpfdiff "
        f"{(summary.get('environment') or {}).get('bpfdiff_commit', 'unknown')}.",
        "",
        "| step | status | exit | seconds | detail |",
        "|---|---|---|---|---|",
    ]
    for s in summary["steps"]:
        detail = s["detail"].replace("|", "\\|")
        lines.append(f"| {s['step']} | {s['status']} | {s['exit_code']} | {s['seconds']} | {detail} |")
    r = summary.get("replay")
    if r:
        lines += ["", f"**Replay:** {r.get('summary')}"]
        for c in r["not_as_recorded"]:
            lines.append(f"- `{c['path']}`: {c['status']}")
            lines += [f"  - {why}" for why in c["reasons"]]
    f = summary.get("fuzz")
    if f:
        lines += ["", "**Fuzz targets:** " + ", ".join(
            f"{t} {v['executions']} runs ({v['exec_per_s']} exec/s)" for t, v in f.items())]
    c = summary.get("campaign")
    if c:
        rate = c.get("programs_per_s")
        lines += ["", f"**Campaign:** tier {c.get('tier')}, {c.get('programs')} programs in "
                  f"{c.get('elapsed_s', 0):.0f} s ({rate or 0:.0f}/s) on "
                  f"{', '.join(c.get('backends') or [])}: {c.get('diverge_new')} new and "
                  f"{c.get('diverge_known')} known divergences. Charts: campaign.html."]
    t = summary.get("triage")
    if t and t["new_reports"]:
        lines += ["", "**New reports:**"] + [f"- `{p}`" for p in t["new_reports"]]
    bad = [s for s in summary["steps"] if s["status"] in ("error", "nothing-tested")]
    for s in bad:
        tail = log_tail(out, s["step"])
        if tail:
            lines += ["", f"<details><summary>{s['step']}: last lines of its log</summary>", "",
                      "```", *tail, "```", "</details>"]
    lines += ["", "Run it locally: `scripts/nightly.sh --budget 3m --seed "
              f"{summary['seed']}` (docs/nightly.md).", ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", required=True)
    ap.add_argument("--budget", type=int, required=True)
    a = ap.parse_args()
    out = a.out
    steps = read_steps(out)
    summary = {
        "schema": 1,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": int(a.seed),
        "budget_s": a.budget,
        "steps": steps,
    }
    summary["replay"] = replay_facts(out, steps)
    summary["fuzz"] = fuzz_facts(out, steps)
    summary["campaign"] = campaign_facts(out, steps)
    summary["triage"] = triage_facts(out)
    replay = load_json(os.path.join(out, "replay.json")) or {}
    summary["environment"] = replay.get("environment")
    summary["exit_code"] = verdict(steps)
    write_junit(out, steps)
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(markdown(summary, out))
    with open(os.path.join(out, "exit_code"), "w", encoding="utf-8") as f:
        f.write(f"{summary['exit_code']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
