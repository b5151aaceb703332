//! Values of options that take a token or a secret: given inline, as `@PATH`
//! (read from that file), or as `-` (read from standard input), so that
//! secrets need not appear in `ps` or the shell history.

use std::io::Read as _;

use crate::error::CliError;

/// Resolves `@PATH` and `-`; remembers that stdin was used, since only one
/// option can read it.
#[derive(Debug, Default)]
pub struct Inputs {
    stdin_used_by: Option<&'static str>,
}

impl Inputs {
    /// The value of option `name` (e.g. `--access-token`): inline, from a
    /// file (`@PATH`) or from stdin (`-`), with one trailing newline removed
    /// from what was read. The error names the option and the path, never the
    /// value.
    pub fn resolve(&mut self, name: &'static str, raw: &str) -> Result<String, CliError> {
        let value = if raw == "-" {
            if let Some(first) = self.stdin_used_by {
                return Err(CliError::usage(format!(
                    "{first} and {name} both ask for stdin (-); only one option can read it"
                )));
            }
            self.stdin_used_by = Some(name);
            let mut buf = String::new();
            std::io::stdin()
                .read_to_string(&mut buf)
                .map_err(|e| CliError::usage(format!("cannot read {name} from stdin: {}", e.kind())))?;
            trim_one_newline(buf)
        } else if let Some(path) = raw.strip_prefix('@') {
            if path.is_empty() {
                return Err(CliError::usage(format!("{name} @PATH needs a path after @")));
            }
            let buf = std::fs::read_to_string(path)
                .map_err(|e| CliError::usage(format!("cannot read {name} from {path:?}: {e}")))?;
            trim_one_newline(buf)
        } else {
            raw.to_owned()
        };
        if value.is_empty() {
            return Err(CliError::usage(format!("{name} is empty")));
        }
        Ok(value)
    }

    /// [`resolve`](Self::resolve) for an optional option.
    pub fn resolve_opt(&mut self, name: &'static str, raw: Option<&str>) -> Result<Option<String>, CliError> {
        raw.map(|r| self.resolve(name, r)).transpose()
    }
}

/// Removes one trailing `\n` or `\r\n`, as a file written by `echo` or an
/// editor ends.
fn trim_one_newline(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_exactly_one_newline() {
        assert_eq!(trim_one_newline("a\n".into()), "a");
        assert_eq!(trim_one_newline("a\r\n".into()), "a");
        assert_eq!(trim_one_newline("a\n\n".into()), "a\n");
        assert_eq!(trim_one_newline("a".into()), "a");
    }

    #[test]
    fn reads_files_and_refuses_empty_values() {
        let dir = std::env::temp_dir().join(format!("authing-oidc-cli-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t");
        std::fs::write(&path, "tok\n").unwrap();
        let mut inputs = Inputs::default();
        let raw = format!("@{}", path.display());
        assert_eq!(inputs.resolve("--token", &raw).unwrap(), "tok");
        assert_eq!(inputs.resolve("--token", "inline").unwrap(), "inline");
        assert!(inputs.resolve("--token", "").is_err());
        assert!(inputs.resolve("--token", "@").is_err());
        let e = inputs.resolve("--token", "@/nonexistent/x").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
