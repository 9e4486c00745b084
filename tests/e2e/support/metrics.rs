//! Parsing `/metrics` with the reference Python parser (`prometheus_client`), so a test fails
//! on output Prometheus itself would reject, not only on a missing substring.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

const PARSER: &str = r##"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    print("#", family.name, family.type)
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value!r}")
"##;

/// Samples keyed `name{label="v",...}` with labels sorted by name, and family types.
#[derive(Debug)]
pub struct Scrape {
    pub samples: HashMap<String, f64>,
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// The value of a sample; panics with the scrape when absent.
    pub fn value(&self, key: &str) -> f64 {
        *self
            .samples
            .get(key)
            .unwrap_or_else(|| panic!("no sample {key}; have {:#?}", self.samples.keys()))
    }
}

/// Parses exposition text. Python comes from `HOOKGATE_TEST_PYTHON` (set by `.ci/run` to
/// its virtualenv) or `python3`.
pub fn parse(text: &str) -> Scrape {
    let python = std::env::var("HOOKGATE_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut child = Command::new(&python)
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}; run .ci/run to set up"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused the output (is prometheus_client installed? .ci/run \
         installs it):\n{}\n---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut samples = HashMap::new();
    let mut types = HashMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        if let Some(family) = line.strip_prefix("# ") {
            let (name, kind) = family.split_once(' ').unwrap();
            types.insert(name.to_owned(), kind.to_owned());
        } else {
            let (key, value) = line.rsplit_once(' ').unwrap();
            samples.insert(key.to_owned(), value.parse().unwrap());
        }
    }
    Scrape { samples, types }
}
