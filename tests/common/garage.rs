//! A real S3-compatible store for the tests: a Garage cluster of one or more nodes on
//! 127.0.0.1, in a temporary folder, with one bucket and one key, stopped when dropped.
//! The binary comes from `tests/garage/setup.sh` (built once per machine).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Garage {
    binary: PathBuf,
    nodes: Vec<Node>,
    /// Each node's `<id>@<rpc address>`, once the cluster is formed.
    ids: Vec<String>,
    pub bucket: String,
    pub key_id: String,
    pub secret: String,
    _dir: tempfile::TempDir,
}

struct Node {
    config: PathBuf,
    s3_port: u16,
    child: Option<Child>,
    log: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Garage {
    /// Starts `nodes` nodes that keep every object on all of them (`replication_factor`
    /// = nodes, `consistent` mode: a write needs a majority), with a bucket `charts`.
    pub fn start(nodes: usize) -> Garage {
        let binary = super::set_up("tests/garage/setup.sh");
        let dir = tempfile::tempdir().unwrap();
        let secret: String = super::noise(32).iter().map(|b| format!("{b:02x}")).collect();
        let mut cluster = Garage {
            binary,
            nodes: Vec::new(),
            ids: Vec::new(),
            bucket: "charts".into(),
            key_id: String::new(),
            secret: String::new(),
            _dir: dir,
        };
        let root = cluster._dir.path().to_path_buf();
        for i in 0..nodes {
            let (s3_port, rpc_port) = (free_port(), free_port());
            let home = root.join(format!("node{i}"));
            std::fs::create_dir_all(&home).unwrap();
            let config = home.join("garage.toml");
            std::fs::write(
                &config,
                format!(
                    "metadata_dir = \"{home}/meta\"\ndata_dir = \"{home}/data\"\ndb_engine = \"sqlite\"\n\
                     replication_factor = {nodes}\nconsistency_mode = \"consistent\"\n\
                     rpc_bind_addr = \"127.0.0.1:{rpc_port}\"\nrpc_public_addr = \"127.0.0.1:{rpc_port}\"\n\
                     rpc_secret = \"{secret}\"\n[s3_api]\napi_bind_addr = \"127.0.0.1:{s3_port}\"\ns3_region = \"garage\"\n",
                    home = home.display()
                ),
            )
            .unwrap();
            cluster.nodes.push(Node { config, s3_port, child: None, log: home.join("log") });
            cluster.start_node(i);
        }
        // Every node into one cluster, each with a role, then the bucket and the key.
        let first = cluster.nodes[0].config.clone();
        let mut ids = Vec::new();
        for i in 0..nodes {
            let config = cluster.nodes[i].config.clone();
            let id = cluster.retry(&config, &["node", "id", "-q"]);
            ids.push(id.trim().to_string());
        }
        for id in &ids[1..] {
            cluster.retry(&first, &["node", "connect", id]);
        }
        for id in &ids {
            let short = id.split('@').next().unwrap();
            cluster.retry(&first, &["layout", "assign", "-z", "dc1", "-c", "1G", short]);
        }
        cluster.retry(&first, &["layout", "apply", "--version", "1"]);
        cluster.retry(&first, &["bucket", "create", "charts"]);
        let key = cluster.retry(&first, &["key", "create", "charthall"]);
        let field = |name: &str| {
            key.lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|rest| rest.trim().to_string())
                .unwrap_or_else(|| panic!("no {name} in garage's answer:\n{key}"))
        };
        cluster.key_id = field("Key ID:");
        cluster.secret = field("Secret key:");
        cluster.retry(&first, &["bucket", "allow", "--read", "--write", "--owner", "charts", "--key", "charthall"]);
        cluster.ids = ids;
        cluster
    }

    /// Runs a `garage` command against the node configured by `config`, retrying for up
    /// to 20 s while the cluster settles; returns its output.
    fn retry(&self, config: &Path, args: &[&str]) -> String {
        let started = Instant::now();
        loop {
            let output = Command::new(&self.binary).arg("-c").arg(config).args(args).output().expect("run garage");
            if output.status.success() {
                return String::from_utf8_lossy(&output.stdout).into_owned();
            }
            if started.elapsed() > Duration::from_secs(20) {
                panic!(
                    "garage {args:?} failed: {}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Starts node `i` (again), and waits for its S3 port.
    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "node {i} runs");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&node.log).unwrap();
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&node.config)
            .arg("server")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start garage");
        node.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", node.s3_port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "garage node {i} did not open its S3 port");
            std::thread::sleep(Duration::from_millis(50));
        }
        if !self.ids.is_empty() {
            // A node started again finds the others sooner when introduced to each.
            for other in (0..self.nodes.len()).filter(|&o| o != i && self.nodes[o].child.is_some()) {
                let config = self.nodes[other].config.clone();
                self.retry(&config, &["node", "connect", &self.ids[i]]);
            }
            self.wait_serving(i);
        }
    }

    /// Waits until node `i` is connected to every other node again (a node started
    /// again answers S3 requests with 503 until it is).
    fn wait_serving(&self, i: usize) {
        let started = Instant::now();
        loop {
            let output = Command::new(&self.binary).arg("-c").arg(&self.nodes[i].config).arg("status").output();
            let status = output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
            let nodes: Vec<&str> = status.lines().filter(|line| line.contains("127.0.0.1:")).collect();
            // A peer not yet connected shows `?` as its hostname.
            if nodes.len() == self.nodes.len() && nodes.iter().all(|line| line.split_whitespace().nth(1) != Some("?")) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "garage node {i} not connected after 30 s:\n{status}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops node `i` with SIGKILL (by its PID), as a crash or a lost machine would.
    pub fn stop_node(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The S3 endpoint of node `i`.
    pub fn endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].s3_port)
    }

    /// The settings of a ChartHall replica that talks to node `i`.
    pub fn env(&self, i: usize, prefix: &str) -> Vec<(String, String)> {
        [
            ("STORAGE", "amazon".to_string()),
            ("STORAGE_AMAZON_BUCKET", self.bucket.clone()),
            ("STORAGE_AMAZON_PREFIX", prefix.to_string()),
            ("STORAGE_AMAZON_REGION", "garage".to_string()),
            ("STORAGE_AMAZON_ENDPOINT", self.endpoint(i)),
            ("STORAGE_AMAZON_FORCE_PATH_STYLE", "true".to_string()),
            ("AWS_ACCESS_KEY_ID", self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop_node(i);
        }
    }
}
