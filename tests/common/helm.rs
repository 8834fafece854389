//! The real Helm client (Helm 4.3's Go SDK through helm-sdkpy), driven by
//! tests/helm/helm_flow.py in a Helm home of its own.

use std::path::Path;
use std::process::Command;

use super::tools_python;

/// What one helm_flow.py run answered.
pub struct Helm {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Helm {
    pub fn ok(&self) -> serde_json::Value {
        assert_eq!(self.code, Some(0), "helm_flow failed:\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        let line = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(line).unwrap_or_else(|e| panic!("helm_flow printed no JSON ({e}): {}", self.stdout))
    }

    pub fn failed(&self) -> &str {
        assert_eq!(
            self.code,
            Some(1),
            "helm_flow should fail in a Helm call:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        &self.stderr
    }
}

/// Runs helm_flow.py with `args`, in `home` when given (else a throwaway home).
pub fn helm(home: Option<&Path>, args: &[&str]) -> Helm {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm/helm_flow.py");
    let mut command = Command::new(tools_python());
    command.arg(&script).args(["--timeout", "60"]);
    if let Some(home) = home {
        command.arg("--home").arg(home);
    }
    let output = command.args(args).output().expect("run helm_flow.py");
    Helm {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
