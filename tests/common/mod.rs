//! Test harness: a real server on 127.0.0.1 with a temporary storage folder — the
//! `charthall` process, or the library's server run in-process where the process is not
//! the point — chart packages built in memory, and a blocking HTTP client.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub mod garage;
pub mod helm;
pub mod oci;

pub use reqwest::blocking::{Client, Response};
pub use reqwest::StatusCode;

/// A running server. A process is killed (SIGKILL) when dropped, an in-process server
/// stopped; its folder is removed with it.
pub struct Server {
    child: Option<Child>,
    in_process: Option<InProcess>,
    pub port: u16,
    pub root: PathBuf,
    env: Vec<(String, String)>,
    /// Command-line arguments for the process, after the harness's settings.
    args: Vec<String>,
    /// Runs the process as this uid (and gid), through `setpriv`.
    run_as: Option<u32>,
    /// A command the binary runs under (`prlimit …`), with its arguments.
    wrapper: Vec<String>,
    _dir: Option<tempfile::TempDir>,
    /// Everything the server logged, collected in the background.
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Starts a server on a fresh temporary folder with these environment variables.
    pub fn start(env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("data");
        Server::start_in(root, env, Some(dir))
    }

    /// Starts a server on an existing (or new) folder.
    pub fn start_in(root: PathBuf, env: &[(&str, &str)], dir: Option<tempfile::TempDir>) -> Server {
        Server::spawned(root, env, &[], None, &[], dir)
    }

    /// Starts a server process on a fresh temporary folder with these environment
    /// variables and command-line arguments.
    pub fn start_with_args(env: &[(&str, &str)], args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("data");
        Server::spawned(root, env, args, None, &[], Some(dir))
    }

    /// Starts a server process as `uid` (group too) on `root`: the tests run as root, who
    /// may write anywhere, and a deployment's server does not.
    pub fn start_as(root: PathBuf, env: &[(&str, &str)], uid: u32) -> Server {
        Server::spawned(root, env, &[], Some(uid), &[], None)
    }

    /// Starts a server process on a fresh temporary folder under `wrapper`, a command
    /// that runs the binary given last (`prlimit --nofile=1024:4096 --`).
    pub fn start_under(env: &[(&str, &str)], wrapper: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        Server::spawned(dir.path().join("data"), env, &[], None, wrapper, Some(dir))
    }

    fn spawned(
        root: PathBuf,
        env: &[(&str, &str)],
        args: &[&str],
        run_as: Option<u32>,
        wrapper: &[&str],
        dir: Option<tempfile::TempDir>,
    ) -> Server {
        let wrapper = wrapper.iter().map(|w| w.to_string()).collect();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let args = args.iter().map(|a| a.to_string()).collect();
        let log = Default::default();
        let mut server =
            Server { child: None, in_process: None, port: 0, root, env, args, run_as, wrapper, _dir: dir, log };
        server.spawn();
        server
    }

    /// Runs the library's server in this test process (its own thread and runtime) on a
    /// fresh temporary folder: the same start-up and service as the binary, without a
    /// process to start or a log line to read the port from. It logs nothing.
    pub fn in_process(env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("data");
        Server::in_process_in(root, env, Some(dir))
    }

    /// [`Server::in_process`] on an existing (or new) folder.
    pub fn in_process_in(root: PathBuf, env: &[(&str, &str)], dir: Option<tempfile::TempDir>) -> Server {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut args = vec![
            "charthall".to_string(),
            "--listen-host=127.0.0.1".to_string(),
            format!("--storage-local-rootdir={}", root.display()),
        ];
        // Each setting as its flag, found by its variable as `--help` lists them.
        let command = <charthall::config::Config as clap::CommandFactory>::command();
        for (name, value) in &env {
            let name = if name == "BASIC_AUTH_PASSWORD" { "BASIC_AUTH_PASS" } else { name };
            let flag =
                command.get_arguments().find(|a| a.get_env().is_some_and(|e| e == name)).and_then(|a| a.get_long());
            let flag = flag.map(str::to_string).unwrap_or_else(|| name.to_lowercase().replace('_', "-"));
            args.push(format!("--{flag}={value}"));
        }
        let config = charthall::config::Config::load_from(args).unwrap_or_else(|e| panic!("bad settings: {e}"));
        let server = charthall::server::Server::open(config).unwrap_or_else(|e| panic!("charthall did not start: {e}"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                server.run(listener, async move { drop(stopped.await) }).await
            })
        });
        let in_process = Some(InProcess { stop, thread });
        Server {
            child: None,
            in_process,
            port,
            root,
            env,
            args: Vec::new(),
            run_as: None,
            wrapper: Vec::new(),
            _dir: dir,
            log: Default::default(),
        }
    }

    fn spawn(&mut self) {
        assert!(self.in_process.is_none(), "restarting is for a server process");
        let mut command = charthall(&self.root, self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command.args(&self.args);
        if let Some(uid) = self.run_as {
            // A copy beside the storage folder, which the test makes readable to `uid`: the
            // build's own folder may not be (a clone under /root).
            let binary = self.root.parent().expect("a folder above the storage").join("charthall");
            std::fs::copy(command.get_program(), &binary).expect("copy the binary");
            let mut as_user = Command::new("setpriv");
            as_user.args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into(), "--".into()]);
            as_user.arg(binary).args(&self.args);
            as_user.env_clear().envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))));
            command = as_user;
        }
        if let Some((program, arguments)) = self.wrapper.split_first() {
            let mut wrapped = Command::new(program);
            wrapped.args(arguments).arg(command.get_program()).args(command.get_args());
            wrapped.env_clear().envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))));
            command = wrapped;
        }
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("start charthall");
        let stderr = child.stderr.take().unwrap();
        let (port_tx, port_rx) = mpsc::channel();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // `address=…` in human lines, `"address":"…"` in JSON ones.
                let address = line.split("address=127.0.0.1:").nth(1);
                if let Some(port) = address.or_else(|| line.split("\"address\":\"127.0.0.1:").nth(1)) {
                    let digits: String = port.chars().take_while(|c| c.is_ascii_digit()).collect();
                    let _ = port_tx.send(digits.parse::<u16>().unwrap());
                }
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        match port_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(port) => self.port = port,
            Err(_) => {
                let _ = child.kill();
                panic!("charthall did not start; its log:\n{}", self.log());
            }
        }
        self.child = Some(child);
        // A start from the start-up caches serves at once and checks storage after: tests
        // look at the index once that check is done.
        if self.log().contains(SERVING_FROM_CACHES) {
            self.wait_for_log(CHECKED_AGAINST_CACHES);
        }
    }

    /// Waits (up to a minute) until the server has logged a line containing `text`.
    pub fn wait_for_log(&self, text: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !self.log().contains(text) {
            assert!(std::time::Instant::now() < deadline, "no {text:?} in a minute; the log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server logged so far (a process only).
    pub fn log(&self) -> String {
        assert!(self.in_process.is_none(), "an in-process server logs nothing: start the process to read its log");
        self.log.lock().unwrap().clone()
    }

    /// Where to open a raw TCP connection to the server.
    pub fn address(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn get(&self, path: &str) -> Response {
        client().get(self.url(path)).send().expect("GET")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Raw upload of a package body to `/api/<repo>/charts` (`repo` may be empty).
    pub fn upload(&self, repo: &str, package: &[u8]) -> Response {
        client().post(self.url(&api_path(repo, "charts"))).body(package.to_vec()).send().expect("POST")
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, as an orchestrator stops it, and waits for it to exit.
    pub fn stop(&mut self) {
        if self.child.is_some() {
            self.terminate();
            let exit = self.wait_exit();
            assert!(exit.success(), "charthall exited with {exit} after SIGTERM; log:\n{}", self.log());
        }
    }

    /// SIGTERM, without waiting.
    pub fn terminate(&self) {
        let status = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status().expect("kill(1)");
        assert!(status.success());
    }

    /// Waits for the process to exit (within a minute) and returns how it did.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("a server process");
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("charthall did not exit within a minute; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts again after `stop` or `kill9`.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        *self.log.lock().unwrap() = String::new();
        self.spawn();
    }

    /// Stops (SIGKILL) and starts again on the same folder and settings.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Starts again with changed settings.
    pub fn restart_with(&mut self, env: &[(&str, &str)]) {
        self.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.restart();
    }
}

/// What the server logs before serving when its index came from start-up caches, and once
/// storage has been checked against them (src/server.rs).
pub const SERVING_FROM_CACHES: &str = "serving the index from the start-up caches";
pub const CHECKED_AGAINST_CACHES: &str = "storage checked against the start-up caches";

/// The binary with a clean environment: loopback, a free port, storage in `root`, then
/// `env` (which may override any of those).
pub fn charthall<'a>(root: &Path, env: impl Iterator<Item = (&'a str, &'a str)>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_charthall"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LISTEN_HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("STORAGE_LOCAL_ROOTDIR", root)
        .envs(env);
    command
}

/// A server running on a thread of the test process, and how to stop it.
struct InProcess {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Result<(), String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        if let Some(InProcess { stop, thread }) = self.in_process.take() {
            let _ = stop.send(());
            let stopped = thread.join();
            if !std::thread::panicking() {
                stopped.expect("the server thread").expect("the in-process server stops cleanly");
            }
        }
    }
}

/// `/api/<repo>/<rest>`, or `/api/<rest>` at depth 0.
pub fn api_path(repo: &str, rest: &str) -> String {
    if repo.is_empty() {
        format!("/api/{rest}")
    } else {
        format!("/api/{repo}/{rest}")
    }
}

pub fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

/// A chart package built in memory, as `helm package` would lay it out.
pub struct ChartBuilder {
    top: String,
    files: Vec<(String, Vec<u8>)>,
}

impl ChartBuilder {
    /// A valid chart `name`/`version` with a values.yaml and one template.
    pub fn new(name: &str, version: &str) -> ChartBuilder {
        ChartBuilder::bare(name)
            .file(
                "Chart.yaml",
                format!("apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"1.0\"\ndescription: Test chart {name}\n"),
            )
            .file("values.yaml", "replicas: 1\nimage: nginx\n")
            .file("templates/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\n")
    }

    /// Only a top-level directory, no files.
    pub fn bare(top: &str) -> ChartBuilder {
        ChartBuilder { top: top.to_string(), files: Vec::new() }
    }

    /// Adds (or replaces) a file under the top-level directory.
    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> ChartBuilder {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.to_string(), content.into()));
        self
    }

    pub fn without(mut self, path: &str) -> ChartBuilder {
        self.files.retain(|(p, _)| p != path);
        self
    }

    /// Entries written with exactly these paths (no top-level prefix added).
    pub fn raw_entries(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // set_path refuses `..` and absolute paths; write the name bytes directly.
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            tar.append(&header, *data).unwrap();
        }
        gzip(&tar.into_inner().unwrap())
    }

    pub fn build(&self) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, data) in &self.files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(1_700_000_000);
            tar.append_data(&mut header, format!("{}/{}", self.top, path), data.as_slice()).unwrap();
        }
        gzip(&tar.into_inner().unwrap())
    }
}

/// A valid chart package of about 6 MB that does not compress away (hex of a
/// pseudo-random sequence, in three files under Helm's 5 MiB limit per file): big enough
/// that a download outlasts socket buffers.
pub fn big_chart(name: &str, version: &str) -> Vec<u8> {
    let text = |seed: u64| hex::encode(noise_from(seed, 2_000_000));
    ChartBuilder::new(name, version).file("a.txt", text(1)).file("b.txt", text(2)).file("c.txt", text(3)).build()
}

/// Deterministic bytes that do not compress (for size limits and big bodies).
pub fn noise(len: usize) -> Vec<u8> {
    noise_from(0, len)
}

/// [`noise`] from another starting point, for buffers that must differ.
pub fn noise_from(seed: u64, len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A connection whose receive buffer is small (64 KiB), so that most of a big answer
/// waits in the server's send buffer while the client reads slowly.
pub fn slow_reader(server: &Server) -> std::net::TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.connect(&server.address().into()).unwrap();
    let stream: std::net::TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(data), &mut out).unwrap();
    out
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// GET with `Accept-Encoding: gzip`.
pub fn get_gzip(server: &Server, path: &str) -> Response {
    client().get(server.url(path)).header("Accept-Encoding", "gzip").send().expect("GET")
}

/// A response header as text (empty when absent).
pub fn header(response: &Response, name: impl reqwest::header::AsHeaderName) -> String {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// The index at `path`, which must answer 200.
pub fn index_of(server: &Server, path: &str) -> serde_yaml::Value {
    let response = server.get(path);
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    yaml(&response.text().unwrap())
}

/// Raw upload that must answer 201 `{"saved":true}`.
pub fn put(server: &Server, repo: &str, package: &[u8]) {
    let response = server.upload(repo, package);
    let status = response.status();
    let body = json(response);
    assert_eq!(status, StatusCode::CREATED, "upload refused: {body}");
    assert_eq!(body, serde_json::json!({"saved": true}));
}

/// Parses a JSON body.
pub fn json(response: Response) -> serde_json::Value {
    let text = response.text().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Parses an index.yaml body.
pub fn yaml(text: &str) -> serde_yaml::Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}): {text}"))
}

/// The versions an index lists for `name`, in order.
pub fn index_versions(index: &serde_yaml::Value, name: &str) -> Vec<String> {
    index["entries"][name]
        .as_sequence()
        .map(|list| list.iter().map(|v| v["version"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Every file below `dir` (relative paths, sorted), to prove what a request wrote. The
/// server's start-up cache is left out, and so is its temporary file while a write of it
/// is in flight: it is rewritten in the background whenever the server sees fit.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if !path.to_string_lossy().ends_with(".charthall-index.cache") {
                out.push(path.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A certificate authority made for one test, and certificates it signs, as PEM files in
/// `dir`: for servers that require client certificates (`TLS_CA_CERT`).
pub struct TestCa {
    pub ca_file: String,
    dir: PathBuf,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new(dir: &Path) -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        // Subject names that differ from the leaves', or clients take a leaf for self-signed.
        params.distinguished_name.push(rcgen::DnType::CommonName, "ChartHall test CA");
        let cert = params.self_signed(&key).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, cert.pem()).unwrap();
        TestCa {
            ca_file: ca_file.to_string_lossy().into_owned(),
            dir: dir.to_path_buf(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A certificate for `name` (a server's address, or a client's name) and its key: the
    /// paths of `<file>.pem` and `<file>-key.pem`.
    pub fn issue(&self, file: &str, name: &str, client: bool) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        if client {
            params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (cert_file, key_file) = (self.dir.join(format!("{file}.pem")), self.dir.join(format!("{file}-key.pem")));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (cert_file.to_string_lossy().into_owned(), key_file.to_string_lossy().into_owned())
    }
}

/// Runs a setup script of the repository's (`tests/…/setup*.sh`) once per test binary and
/// returns the path it prints last: the tools the tests drive are installed on first use.
pub fn set_up(script: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let output = Command::new("bash").arg(&path).output().unwrap_or_else(|e| panic!("run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{script} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let last = PathBuf::from(stdout.lines().last().unwrap_or_else(|| panic!("{script} printed no path")).trim());
    assert!(last.exists(), "{script} printed {last:?}, which does not exist");
    last
}

/// The python of the tests' tool venv (tests/helm/setup-venv.sh): the real Helm client
/// (helm-sdkpy) and the Prometheus text parser.
pub fn tools_python() -> &'static Path {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| set_up("tests/helm/setup-venv.sh"))
}
