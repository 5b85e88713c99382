//! swtpm for the end-to-end tests: a fresh TPM per use, optionally
//! manufactured with an EK certificate by swtpm's local CA (`swtpm_setup
//! --create-ek-cert --create-platform-cert` with `swtpm_localca`, Debian's
//! swtpm-tools), each CA in its own directory so tests never share one.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tollgate::{TempDir, have_tool, temp_dir};

/// A local EK CA (swtpm_localca's state: root CA, issuing CA, serials).
pub(crate) struct EkCa {
    dir: TempDir,
}

impl EkCa {
    pub(crate) fn new() -> EkCa {
        let dir = temp_dir();
        let d = dir.0.display().to_string();
        let write = |name: &str, text: String| {
            std::fs::write(dir.0.join(name), text).expect("write swtpm config")
        };
        write(
            "localca.conf",
            format!(
                "statedir = {d}/ca\nsigningkey = {d}/ca/signkey.pem\n\
                 issuercert = {d}/ca/issuercert.pem\ncertserial = {d}/ca/certserial\n"
            ),
        );
        write(
            "localca.options",
            "--platform-manufacturer Tollgate\n--platform-version 2.1\n--platform-model e2e\n"
                .into(),
        );
        write(
            "setup.conf",
            format!(
                "create_certs_tool = /usr/bin/swtpm_localca\n\
                 create_certs_tool_config = {d}/localca.conf\n\
                 create_certs_tool_options = {d}/localca.options\nactive_pcr_banks = sha256\n"
            ),
        );
        std::fs::create_dir_all(dir.0.join("ca")).expect("ca dir");
        EkCa { dir }
    }

    /// The certificate that signs EK certificates (what an operator puts
    /// in `[agent] tpm_ca_files`); exists after the first TPM is made.
    pub(crate) fn issuer_cert(&self) -> PathBuf {
        self.dir.0.join("ca/issuercert.pem")
    }

    fn setup_conf(&self) -> PathBuf {
        self.dir.0.join("setup.conf")
    }
}

/// A swtpm TPM 2.0 on loopback, killed on drop.
pub(crate) struct Swtpm {
    child: Child,
    port: u16,
    _dir: TempDir,
}

/// Whether swtpm and swtpm_setup are installed (loud skip, CI failure).
pub(crate) fn have_swtpm() -> bool {
    have_tool("/usr/bin/swtpm", "swtpm") && have_tool("/usr/bin/swtpm_setup", "swtpm (swtpm-tools)")
}

impl Swtpm {
    /// A fresh TPM; with `ca`, manufactured with an RSA 2048 EK
    /// certificate (NV 0x01c00002) and a platform certificate it signed.
    pub(crate) fn start(ca: Option<&EkCa>) -> Swtpm {
        let dir = temp_dir();
        if let Some(ca) = ca {
            let out = Command::new("swtpm_setup")
                .args([
                    "--tpm2",
                    "--create-ek-cert",
                    "--create-platform-cert",
                    "--overwrite",
                ])
                .arg("--tpmstate")
                .arg(&dir.0)
                .arg("--config")
                .arg(ca.setup_conf())
                .output()
                .expect("run swtpm_setup");
            assert!(
                out.status.success(),
                "swtpm_setup: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let child = Command::new("swtpm")
                .args(["socket", "--tpm2"])
                .args([
                    "--server",
                    &format!("type=tcp,port={port},bindaddr=127.0.0.1"),
                ])
                .args([
                    "--ctrl",
                    &format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1),
                ])
                .args(["--flags", "not-need-init,startup-clear"])
                .args(["--tpmstate", &format!("dir={}", dir.0.display())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn swtpm");
            let mut tpm = Swtpm {
                child,
                port,
                _dir: TempDir(PathBuf::new()),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    tpm._dir = dir;
                    return tpm;
                }
                if let Ok(Some(_)) = tpm.child.try_wait() {
                    break; // a port was taken: try others
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("swtpm did not start");
    }

    pub(crate) fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
