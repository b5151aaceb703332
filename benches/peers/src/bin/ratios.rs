//! Prints the side-by-side table of the last `cargo bench -p authing-oidc-peers
//! --bench verify` run, with each contestant's ratio to its group's floor,
//! from criterion's estimates: the slope (the time criterion prints), and the
//! median's ratio beside it.
//!
//! `cargo run -p authing-oidc-peers --bin ratios [TARGET_DIR]` (default: `target`).

use std::path::{Path, PathBuf};

use authing_oidc_peers::Alg;

const CONTESTANTS: [&str; 5] = [
    "floor",
    "authing_oidc",
    "jsonwebtoken",
    "openidconnect",
    "jwt_simple",
];

fn estimate(dir: &Path, group: &str, name: &str, which: &str) -> Option<f64> {
    let path = dir.join(group).join(name).join("new").join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json[which]["point_estimate"]
        .as_f64()
        .or_else(|| json["mean"]["point_estimate"].as_f64())
}

fn show(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn main() {
    let target = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let dir = target.join("criterion");
    println!("| alg | {} |", CONTESTANTS.join(" | "));
    println!("|---|{}", "---|".repeat(CONTESTANTS.len()));
    for alg in Alg::ALL {
        let group = alg.name();
        let Some(floor) = estimate(&dir, group, "floor", "slope") else {
            eprintln!("no estimates for {group} under {}", dir.display());
            continue;
        };
        let cells: Vec<String> = CONTESTANTS
            .iter()
            .map(|name| {
                match (
                    estimate(&dir, group, name, "slope"),
                    estimate(&dir, group, name, "median"),
                ) {
                    (Some(slope), Some(median)) => {
                        let floor_median = estimate(&dir, group, "floor", "median").unwrap_or(floor);
                        format!(
                            "{} ×{:.2} (median ×{:.2})",
                            show(slope),
                            slope / floor,
                            median / floor_median
                        )
                    }
                    _ => "—".to_owned(),
                }
            })
            .collect();
        println!("| {group} | {} |", cells.join(" | "));
    }
}
