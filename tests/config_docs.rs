//! The reference (`docs/configuration.md`) and `vbench init`'s template stay complete: every
//! key the loader accepts, in every section, is documented in both. The accepted keys are
//! taken from the loader itself (the "valid keys" of an unknown-key error), not a copied list.

use vbench::config::Overrides;
use vbench::config::{from_text, template::TEMPLATE};

/// The keys the loader accepts in the section whose unknown-key error `probe` provokes.
fn accepted_keys(probe: &str) -> Vec<String> {
    let e = from_text(probe.to_string(), None, &Overrides::default(), None).expect_err(probe);
    let line = e
        .help
        .iter()
        .find(|h| h.starts_with("valid keys in "))
        .unwrap_or_else(|| panic!("{e}"));
    let (_, list) = line.split_once(": ").unwrap();
    list.split(", ").map(str::to_string).collect()
}

#[test]
fn every_key_is_in_the_template_and_the_reference() {
    let docs_path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
    let docs = std::fs::read_to_string(docs_path).expect(docs_path);
    let probes = [
        "zzz_unknown: 1\n",
        "server:\n  zzz_unknown: 1\n",
        "client:\n  zzz_unknown: 1\n",
        "run:\n  zzz_unknown: 1\n",
        "sweeps:\n  s1:\n    zzz_unknown: 1\n",
        "sweeps:\n  s1:\n    slo:\n      zzz_unknown: 1\n",
        "matrix:\n  - name: a\n    zzz_unknown: 1\n",
        "hosts:\n  - name: a\n    zzz_unknown: 1\n",
    ];
    let mut total = 0;
    for probe in probes {
        let keys = accepted_keys(probe);
        assert!(keys.len() >= 3, "{probe}: {keys:?}");
        for k in keys {
            total += 1;
            assert!(
                docs.contains(&format!("| `{k}` |")),
                "docs/configuration.md does not document `{k}`"
            );
            // Sweep keys appear in the template's commented example.
            assert!(
                TEMPLATE.contains(&format!(" {k}:")) || TEMPLATE.contains(&format!("\n{k}:")),
                "template lacks `{k}`"
            );
        }
    }
    assert!(total >= 35, "only {total} keys found");
}
