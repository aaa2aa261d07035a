//! Every Autobahn fuzzing case (kosoku) against `/echo`, including the permessage-deflate
//! cases 12 and 13: every case must be OK, or INFORMATIONAL where Autobahn only informs.

use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::process::Command;

/// Cases whose outcome Autobahn reports as information, never as a pass or a fail.
const INFORMATIONAL: [&str; 3] = ["7.1.6", "7.13.1", "7.13.2"];

pub fn run_cases(addr: &str) -> anyhow::Result<BTreeMap<String, (String, String)>> {
    let out = crate::steps::root().join("target/autobahn");
    let _ = std::fs::remove_dir_all(&out);
    crate::setup::run(
        Command::new("kosoku")
            .args(["-p", "2", "-o"])
            .arg(&out)
            .arg(format!("ws://{addr}/echo")),
    )?;
    let index =
        std::fs::read_to_string(out.join("index.json")).context("kosoku wrote no index.json")?;
    let index: serde_json::Value = serde_json::from_str(&index)?;
    let agents = index.as_object().context("index.json: not an object")?;
    let (_, cases) = agents.iter().next().context("index.json: no agent")?;
    let mut results = BTreeMap::new();
    for (case, r) in cases.as_object().context("index.json: no cases")? {
        let field = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
        results.insert(case.clone(), (field("behavior"), field("behaviorClose")));
    }
    Ok(results)
}

pub fn check(addr: &str) -> anyhow::Result<()> {
    let results = run_cases(addr)?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    for (case, (behavior, close)) in &results {
        *counts.entry(behavior.as_str()).or_default() += 1;
        let ok = behavior == "OK"
            || (behavior == "INFORMATIONAL" && INFORMATIONAL.contains(&case.as_str()));
        if !ok || !(close == "OK" || close == "INFORMATIONAL") {
            bad.push(format!("{case}: {behavior}/{close}"));
        }
    }
    eprintln!(
        "xtask: Autobahn cases 1-13: {} cases, {counts:?}",
        results.len()
    );
    if results.len() < 510 {
        bail!("only {} Autobahn cases ran", results.len());
    }
    if !bad.is_empty() {
        bail!("Autobahn cases not OK: {}", bad.join(", "));
    }
    Ok(())
}
