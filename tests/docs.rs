//! The flag reference, docs/flags.md, is the binary's own `--help`: this test
//! fails when the committed copy differs. Regenerate it with
//! `UPDATE_DOCS=1 cargo test --test docs`. docs/troubleshooting.md has a
//! section for every error reason, and none for a reason that does not exist.

use std::process::Command;

/// `args` of the binary, run without any environment (clap shows the values
/// of set variables).
fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"))
        .args(args)
        .env_clear()
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 help")
}

fn reference() -> String {
    let mut out = String::from(
        "# Flags\n\nGenerated from the binary's `--help` by `tests/docs.rs` (do not edit; regenerate with\n\
         `UPDATE_DOCS=1 cargo test --test docs`). Every flag can also be set through the environment\n\
         variable shown beside it.\n",
    );
    for args in [&["--help"][..], &["serve", "--help"], &["emulator", "--help"]] {
        out.push_str(&format!("\n## `gamelift-streams-gateway {}`\n\n```text\n{}```\n", args.join(" "), help(args)));
    }
    out
}

#[test]
fn docs_flags_md_is_the_binarys_help() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/flags.md");
    let generated = reference();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).expect("docs/flags.md written");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/flags.md differs from --help: regenerate it with `UPDATE_DOCS=1 cargo test --test docs`"
    );
}

#[test]
fn docs_troubleshooting_md_takes_every_error_reason() {
    use gamelift_streams_gateway::reason::ErrorReason;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/troubleshooting.md");
    let page = std::fs::read_to_string(&path).expect("docs/troubleshooting.md");
    let sections: Vec<&str> =
        page.lines().filter_map(|l| l.strip_prefix("### `").and_then(|rest| rest.strip_suffix('`'))).collect();
    let reasons: Vec<&str> =
        (1..).map_while(|value| ErrorReason::try_from(value).ok()).map(|reason| reason.as_str_name()).collect();
    assert!(reasons.len() >= 25, "{reasons:?}");
    let mut missing: Vec<&&str> = reasons.iter().filter(|r| !sections.contains(r)).collect();
    missing.sort();
    assert!(missing.is_empty(), "reasons without a section: {missing:?}");
    let unknown: Vec<&&str> = sections.iter().filter(|s| !reasons.contains(s)).collect();
    assert!(unknown.is_empty(), "sections for no reason: {unknown:?}");
    assert_eq!(sections.len(), reasons.len(), "one section each");
}
