//! `veil demo` through the real binary: it serves, links generated data and reports the quality.

mod common;

use common::veil;

#[test]
fn demo_links_two_datasets_and_reports_the_quality() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo-data");
    let output = veil(&[])
        .args([
            "demo",
            "--records",
            "200",
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .output()
        .expect("run veil demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    for needle in [
        "precision",
        "recall",
        "F1",
        "Kind      linkage.run",
        "/api/v1",
        "veil link project upload",
        "Stopped the server",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in {stdout}");
    }
    assert!(data.join("demo/project.json").exists() && data.join("veil.db").exists());
}
