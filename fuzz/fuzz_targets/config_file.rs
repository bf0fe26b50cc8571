//! The TOML config file, read as `veil serve --config FILE` reads it.
#![no_main]

use std::collections::HashMap;
use std::io::Write;

use libfuzzer_sys::fuzz_target;
use veil_config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return;
    };
    if file.write_all(data).is_err() {
        return;
    }
    if let Ok(config) = Config::load(Some(file.path()), &HashMap::new()) {
        let _ = config.to_redacted_toml();
    }
});
