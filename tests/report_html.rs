//! `report.html` in a real browser: Debian's headless Chromium (`scripts/setup.sh` installs
//! it) loads pages built by `vbench::report::html` from `file://` and the tests check that
//!
//! 1. the page logs nothing to the console: no error, no uncaught exception, no refused
//!    script (Chromium's `--enable-logging=stderr` prints every console message as an
//!    `INFO:CONSOLE` line whatever its level, so the page's promise is "no console line");
//! 2. the page makes no network request: Chromium's proxy is a listener of this test, and
//!    Chromium's own net log says who asked for each request. Any request a page initiated is
//!    a failure, and so is any connection the listener sees that is not one of the browser's
//!    own background requests (update checks, network time, account listing, which this
//!    Chromium makes whatever the page, and which end at the listener, never leaving the
//!    machine);
//! 3. its screenshot is not blank (many colours, much ink);
//! 4. sorting works: a small test hook appended to the page (allowed by adding its hash to
//!    the page's policy) clicks a column header twice and writes the row order into the DOM,
//!    which `--dump-dom` prints.
//!
//! Each detector is shown to fire: an uncaught exception, a page fetching from
//! `example.invalid`, a blank page and a page without the sorting script are all caught. A
//! missing Chromium is a failure naming `scripts/setup.sh`, never a skip.

mod common;

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vbench::report::verdict::{Finding, Outcome, Verdict};
use vbench::report::{
    ChartOptions, OUT_TPUT, Page, Row, RunMeta, chart_svgs, compare, failed_logs, group, html,
};
use vbench::results::{BenchResult, parse};

/// How long one Chromium run may take before it is killed and the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// One Chromium at a time: two cores, and a page load is measured against a deadline.
static BROWSER: Mutex<()> = Mutex::new(());

/// The reason of the failed point: markup, an ampersand, quotes and a URL, all of which must
/// reach the reader as text.
const NASTY: &str = "validation: 3 of 10 requests failed: </pre><script>alert(\"pwned\")</script> \
                     & 'quoted' from http://evil.example/x.js";

// ---------------------------------------------------------------------------------------
// Chromium

/// The Chromium binary: `$VBENCH_CHROMIUM`, else `chromium` or `chromium-browser` on PATH.
fn chromium_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VBENCH_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "headless Chromium is needed to test report.html and none was found on PATH \
         (chromium, chromium-browser; or set VBENCH_CHROMIUM): run scripts/setup.sh, which \
         installs Debian's chromium package"
    );
}

/// What one Chromium run left behind.
struct Load {
    /// Console messages (`INFO:CONSOLE…` lines of Chromium's log).
    console: Vec<String>,
    /// URLs requested on behalf of a page (per Chromium's net log).
    page_requests: Vec<String>,
    /// Connections to the proxy that no request of the browser's own explains (request line).
    unexplained: Vec<String>,
    /// Every connection the proxy saw (request line; empty for a socket that sent nothing).
    proxied: Vec<String>,
    /// `--dump-dom` output.
    stdout: String,
    stderr: String,
}

enum Mode<'a> {
    Screenshot(&'a Path),
    DumpDom,
}

/// Kills the whole process group of a Chromium (browser, zygote, renderers, GPU process) when
/// dropped, so that neither a deadline nor a failed assertion leaves any of it running.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // The group id is the browser's pid (process_group(0) below). A pid is not reused
        // while a group of that id still has members, so this reaches only our Chromium.
        let pgid = self.0.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// Load `page` in headless Chromium through the test's proxy, with a deadline.
fn load(page: &Path, mode: Mode<'_>) -> Load {
    let bin = chromium_bin();
    let _one_at_a_time = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().expect("tempdir");
    let proxy = Proxy::start();
    let netlog = work.path().join("netlog.json");
    let (out_path, err_path) = (work.path().join("stdout"), work.path().join("stderr"));
    let mut cmd = Command::new(&bin);
    cmd.args([
        "--headless=new",
        // Tests run as root, where Chromium's sandbox cannot start.
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2000",
        "--proxy-bypass-list=<-loopback>",
    ])
    .arg(format!(
        "--user-data-dir={}",
        work.path().join("profile").display()
    ))
    .arg(format!("--proxy-server=127.0.0.1:{}", proxy.port))
    .arg(format!("--log-net-log={}", netlog.display()));
    match mode {
        Mode::Screenshot(png) => cmd.arg(format!("--screenshot={}", png.display())),
        Mode::DumpDom => cmd.arg("--dump-dom"),
    };
    cmd.arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .process_group(0);
    let mut browser = Group(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display())),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = browser.0.try_wait().expect("wait for chromium") {
            break status;
        }
        if start.elapsed() > DEADLINE {
            drop(browser);
            panic!(
                "chromium did not finish within {DEADLINE:?} (killed); its log:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The browser is gone; its helpers go with the group.
    drop(browser);
    let proxied = proxy.stop();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");

    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(String::from)
        .collect();
    let log: Value = serde_json::from_slice(
        &std::fs::read(&netlog).unwrap_or_else(|e| panic!("chromium wrote no net log: {e}")),
    )
    .unwrap_or_else(|e| panic!("chromium's net log does not parse: {e}"));
    let (page_requests, browser_hosts) = requests(&log);
    let unexplained = proxied
        .iter()
        .filter(|line| !line.is_empty())
        .filter(|line| !target_host(line).is_some_and(|h| browser_hosts.contains(&h)))
        .cloned()
        .collect();
    Load {
        console,
        page_requests,
        unexplained,
        proxied,
        stdout,
        stderr,
    }
}

/// From Chromium's net log: the URLs requested for a page (an initiator that is an origin,
/// `null` for a `file://` page), and the hosts the browser itself asked for (`not an origin`).
fn requests(log: &Value) -> (Vec<String>, Vec<String>) {
    let start_job = log
        .pointer("/constants/logEventTypes/URL_REQUEST_START_JOB")
        .and_then(Value::as_u64)
        .expect("the net log names URL_REQUEST_START_JOB");
    let events = log
        .get("events")
        .and_then(Value::as_array)
        .expect("the net log has events");
    let (mut page, mut own) = (Vec::new(), Vec::new());
    for e in events {
        if e.get("type").and_then(Value::as_u64) != Some(start_job) {
            continue;
        }
        let Some(url) = e.pointer("/params/url").and_then(Value::as_str) else {
            continue;
        };
        match e.pointer("/params/initiator").and_then(Value::as_str) {
            Some("not an origin") => own.extend(url_host(url)),
            initiator => page.push(format!("{url} (initiator {initiator:?})")),
        }
    }
    (page, own)
}

/// `https://host:443/x` → `host`.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(
        authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_string(),
    )
}

/// The host a proxy request line is for: `CONNECT host:443 HTTP/1.1`, `GET http://host/… HTTP/1.1`.
fn target_host(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let (method, target) = (words.next()?, words.next()?);
    if method == "CONNECT" {
        Some(
            target
                .rsplit_once(':')
                .map_or(target, |(h, _)| h)
                .to_string(),
        )
    } else {
        url_host(target)
    }
}

/// A TCP listener standing in for the proxy: it records the first line each connection sends
/// and answers nothing, so no request goes anywhere.
struct Proxy {
    port: u16,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: JoinHandle<()>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy listener");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            let line = first_line(conn);
                            seen.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        Proxy {
            port,
            stop,
            seen,
            thread,
        }
    }

    /// Stop listening; every connection seen (one last look for any still queued).
    fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("proxy thread");
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The request line of a connection (empty when it sends nothing within a second).
fn first_line(mut conn: TcpStream) -> String {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while buf.len() < 8192 && !buf.windows(2).any(|w| w == b"\r\n") {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf);
    text.lines().next().unwrap_or("").to_string()
}

// ---------------------------------------------------------------------------------------
// The page under test

fn result(input: u64, conc: u64, scale: f64) -> BenchResult {
    let ttft = (10.0 * conc as f64 + input as f64 / 100.0) * scale;
    let text = format!(
        r#"{{"num_prompts": {n}, "completed": {n}, "failed": 0, "total_output_tokens": {}, "duration": 2.0,
            "request_throughput": {}, "output_throughput": {}, "mean_ttft_ms": {ttft}, "p99_ttft_ms": {},
            "mean_tpot_ms": {}, "p99_tpot_ms": {}, "mean_e2el_ms": {}}}"#,
        conc * 100,
        conc as f64 / 2.0 / scale,
        (conc as f64 * 50.0 + input as f64 / 64.0) / scale,
        ttft * 1.5,
        (2.0 + conc as f64 * 0.1) * scale,
        (3.0 + conc as f64 * 0.1) * scale,
        ttft + 500.0,
        n = conc * 2
    );
    parse(text.as_bytes(), "synthetic").expect("synthetic result parses")
}

fn row(sweep: &str, input: u64, conc: u64, status: &str, repeat: u32) -> Row {
    Row {
        sweep: sweep.into(),
        name: format!("input_{input}_n{conc}"),
        input_len: input,
        output_len: 500,
        concurrency: conc,
        num_prompts: conc * 2,
        status: status.into(),
        reason: None,
        result: None,
        file: None,
        repeat,
        log: None,
        telemetry: Default::default(),
    }
}

/// A stand-in run: two input lengths over a concurrency ladder, one point measured three
/// times (one repeat failed, with a nasty reason and a real client log), a point that failed
/// outright, one cut short, one skipped. `scale` slows every latency (and throughput) down.
fn run_rows(dir: &Path, scale: f64) -> Vec<Row> {
    let mut rows = Vec::new();
    for input in [1024, 8192] {
        for conc in [1, 2, 5, 10, 20] {
            let mut r = row("production", input, conc, "ok", 1);
            r.result = Some(result(input, conc, scale));
            rows.push(r);
        }
    }
    for repeat in 2..=3 {
        let mut r = row("production", 1024, 5, "ok", repeat);
        r.result = Some(result(1024, 5, scale * (1.0 + repeat as f64 / 20.0)));
        rows.push(r);
    }
    // The third repeat failed, with markup in its reason and the real client's output (with
    // its progress bars) as its log.
    rows[2].status = "failed".into();
    rows[2].result = None;
    rows[2].reason = Some(NASTY.into());
    let log = dir.join("input_1024_n5.r1.log");
    let mut text = std::fs::read(common::fixture("vllm-0.33/real_client_random.stdout.txt"))
        .expect("client stdout fixture");
    text.extend_from_slice(
        b"\x1b[31mERROR\x1b[0m request 7: </pre><img src=\"http://evil.example/x.png\"> & 'more'\n",
    );
    std::fs::write(&log, text).expect("write log");
    rows[2].log = Some(log);

    let mut failed = row("production", 8192, 40, "failed", 1);
    failed.reason = Some("the server answered 500 Internal Server Error & gave up".into());
    rows.push(failed);
    let mut cut = row("scaling", 1024, 100, "interrupted", 1);
    cut.reason = Some("vbench was stopped during the point".into());
    rows.push(cut);
    let mut skipped = row("production", 98304, 1, "skipped", 1);
    skipped.reason = Some("input + output exceed max_model_len 32768".into());
    rows.push(skipped);
    rows
}

fn meta() -> RunMeta {
    RunMeta {
        title: "20261201_120000-abcdef01".into(),
        source: "/srv/results/runs/20261201_120000-abcdef01".into(),
        standin: true,
        vbench_version: env!("CARGO_PKG_VERSION").into(),
        model: Some("Qwen/Qwen3-0.6B".into()),
        vllm_version: Some("0.33.0".into()),
        image: Some("vbench/standin:0.1.0".into()),
        image_digest: Some(
            "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945".into(),
        ),
        serve_args: Some(
            [
                "vllm",
                "serve",
                "Qwen/Qwen3-0.6B",
                "--api-key",
                "<redacted>",
                "--max-model-len",
                "32768",
            ]
            .map(String::from)
            .to_vec(),
        ),
        gpus: vec![],
        started: Some("2026-12-01T12:00:00Z".into()),
        config: Some(serde_json::json!({
            "server": {"image": "vllm/vllm-openai:v0.33.0", "url": "http://vllm:8000", "api_key": "<redacted>"},
            "sweeps": {"production": {"input_lens": [1024, 8192], "concurrency": [1, 2, 5, 10, 20]}},
        })),
        server_record: Some(serde_json::json!({
            "written_at": "2026-12-01T11:59:00Z", "container": "vbench-vllm", "reused": false,
            "startup_seconds": 3.25, "max_model_len": 32768,
            "host": {"os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0", "docker_engine": "27.5.1"},
        })),
    }
}

/// The page of a stand-in run compared with a faster baseline (so it regressed), written to
/// `dir/report.html`.
fn write_page(dir: &Path) -> PathBuf {
    let rows = run_rows(dir, 1.0);
    let baseline = run_rows(dir, 0.8);
    let comparison = compare(&rows, &baseline);
    let charts: Vec<(String, String)> = chart_svgs(&rows, &ChartOptions { standin: true })
        .expect("charts render")
        .into_iter()
        .map(|c| (c.title, c.svg))
        .collect();
    assert!(!charts.is_empty());
    let verdict = Verdict {
        outcome: Outcome::Regressed,
        baseline: "20261130_120000-01234567".into(),
        current: "20261201_120000-abcdef01".into(),
        threshold: 0.05,
        regressions: vec![Finding {
            point: "production input 8K output 500 conc 20".into(),
            metric: "output_throughput".into(),
            baseline: 1535.0,
            current: 1228.0,
            worse_by: 0.2,
            noise: 0.03,
        }],
        reasons: vec![],
        compared: 10,
    };
    let logs = failed_logs(&rows, 40);
    assert_eq!(logs.len(), 1, "one failed row has a log");
    let meta = meta();
    let text = html(&Page {
        meta: &meta,
        rows: &rows,
        charts: &charts,
        comparison: Some(("20261130_120000-01234567", &comparison)),
        verdict: Some(&verdict),
        logs: &logs,
    });
    let path = dir.join("report.html");
    std::fs::write(&path, text).expect("write report.html");
    path
}

// ---------------------------------------------------------------------------------------
// Screenshots

/// Distinct colours and the share of pixels that are not (near) white.
fn ink(png_path: &Path) -> (usize, f64) {
    let bytes = std::fs::read(png_path)
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png_path.display()));
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("screenshot is a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("decode the screenshot");
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0usize;
    let mut total = 0usize;
    for px in pixels.chunks_exact(channels) {
        let rgb = match channels {
            1 | 2 => [px[0]; 3],
            _ => [px[0], px[1], px[2]],
        };
        colours.insert(rgb);
        if rgb.iter().any(|&c| c < 235) {
            inked += 1;
        }
        total += 1;
    }
    (colours.len(), inked as f64 / total.max(1) as f64)
}

/// A page "is not blank" when its screenshot has text and charts: many colours (antialiased
/// text, the charts' series) and a fair share of ink.
fn not_blank((colours, ink): (usize, f64)) -> bool {
    colours >= 64 && ink >= 0.03
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn report_loads_cleanly_offline_and_shows_something() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = write_page(dir.path());
    let shot = dir.path().join("report.png");
    let run = load(&page, Mode::Screenshot(&shot));
    assert!(
        run.console.is_empty(),
        "console output while loading report.html:\n{}",
        run.console.join("\n")
    );
    assert!(
        run.page_requests.is_empty(),
        "report.html requested: {:?}",
        run.page_requests
    );
    assert!(
        run.unexplained.is_empty(),
        "connections while loading report.html: {:?} (all seen: {:?})",
        run.unexplained,
        run.proxied
    );
    let measured = ink(&shot);
    assert!(
        not_blank(measured),
        "the screenshot looks blank: {measured:?} (colours, ink share)"
    );
}

#[test]
fn console_check_sees_an_uncaught_exception() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("throws.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><title>t</title><p>x</p><script>throw new Error(\"deliberate-failure\")</script>",
    )
    .unwrap();
    let run = load(&page, Mode::DumpDom);
    assert!(
        run.console
            .iter()
            .any(|l| l.contains("Uncaught Error: deliberate-failure")),
        "the thrown error is not seen; chromium's log:\n{}",
        run.stderr
    );
}

#[test]
fn network_check_sees_a_page_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("fetches.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><title>t</title><p>x</p><script src=\"http://example.invalid/x.js\"></script>",
    )
    .unwrap();
    let run = load(&page, Mode::DumpDom);
    // Both detectors fire: the net log names the page's request, and the connection reaches
    // the listener.
    assert!(
        run.page_requests
            .iter()
            .any(|r| r.starts_with("http://example.invalid/x.js")),
        "the page's request is not in the net log: {:?}",
        run.page_requests
    );
    assert!(
        run.unexplained
            .iter()
            .any(|l| l.contains("example.invalid")),
        "the listener did not see the request: {:?}",
        run.proxied
    );
}

#[test]
fn policy_stops_what_escaping_might_let_through() {
    // A fetch and a script injected into a real page, as a bug in escaping would: the page's
    // policy refuses both (and says so on the console), and nothing leaves.
    let dir = tempfile::tempdir().expect("tempdir");
    let page = write_page(dir.path());
    let text = std::fs::read_to_string(&page).unwrap().replace(
        "</main>",
        "<img src=\"http://example.invalid/y.png\"><script>document.title = 'injected'</script></main>",
    );
    std::fs::write(&page, text).unwrap();
    let run = load(&page, Mode::DumpDom);
    assert!(run.page_requests.is_empty(), "{:?}", run.page_requests);
    assert!(run.unexplained.is_empty(), "{:?}", run.proxied);
    assert!(
        !run.stdout.contains("<title>injected</title>"),
        "the injected script ran"
    );
    assert!(
        run.console
            .iter()
            .any(|l| l.contains("Content Security Policy")),
        "no refusal on the console:\n{}",
        run.stderr
    );
}

#[test]
fn blank_check_sees_a_blank_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("blank.html");
    std::fs::write(&page, "<!DOCTYPE html><title>t</title><p>.</p>").unwrap();
    let shot = dir.path().join("blank.png");
    load(&page, Mode::Screenshot(&shot));
    let measured = ink(&shot);
    assert!(!not_blank(measured), "a blank page passes: {measured:?}");
}

/// Clicks the output-throughput header twice and writes the orders into `#sort-result`.
const SORT_HOOK: &str = r#"
(function () {
  var table = document.getElementById("points-table");
  var button = table.querySelector('th[data-key="output_throughput"] button');
  function order() {
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return r.getAttribute("data-point");
    });
  }
  var result = { before: order() };
  button.click();
  result.asc = order();
  result.asc_state = button.parentNode.getAttribute("aria-sort");
  button.click();
  result.desc = order();
  result.desc_state = button.parentNode.getAttribute("aria-sort");
  var pre = document.createElement("pre");
  pre.id = "sort-result";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
})();
"#;

/// The page with the hook appended and its hash added to the page's script policy (so the
/// page's own script still runs under the real policy).
fn with_sort_hook(page: &str) -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SORT_HOOK));
    let (head, rest) = page
        .split_once("script-src ")
        .expect("the page has a script policy");
    let text = format!("{head}script-src 'sha256-{hash}' {rest}");
    text.replace("</body>", &format!("<script>{SORT_HOOK}</script>\n</body>"))
}

/// The orders the hook saw: (before, ascending, descending, states).
fn sort_result(dom: &str) -> Value {
    let text = dom
        .split("<pre id=\"sort-result\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("the hook wrote no result; the DOM:\n{dom}"));
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&text).expect("the hook's JSON")
}

/// The point order by median output throughput, points without one last.
fn expected_order(rows: &[Row], descending: bool) -> Vec<String> {
    let mut keyed: Vec<(Option<f64>, String)> = group(rows)
        .iter()
        .map(|g| {
            (
                g.metric(OUT_TPUT).map(|s| s.median),
                format!("{}/{}", g.key.sweep, g.rows[0].name),
            )
        })
        .collect();
    // Stable, like the page's: ties and missing values keep the table's order.
    keyed.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) if descending => y.total_cmp(&x),
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    keyed.into_iter().map(|(_, p)| p).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("an order")
        .iter()
        .map(|s| s.as_str().expect("a point").to_string())
        .collect()
}

#[test]
fn clicking_a_header_sorts_numerically_both_ways() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = write_page(dir.path());
    let rows = run_rows(dir.path(), 1.0);
    let text = std::fs::read_to_string(&page).unwrap();
    std::fs::write(&page, with_sort_hook(&text)).unwrap();
    let run = load(&page, Mode::DumpDom);
    assert!(run.console.is_empty(), "{}", run.console.join("\n"));
    let r = sort_result(&run.stdout);
    let (before, asc, desc) = (
        strings(&r["before"]),
        strings(&r["asc"]),
        strings(&r["desc"]),
    );
    assert_ne!(
        before,
        expected_order(&rows, false),
        "the test needs unsorted data"
    );
    assert_eq!(asc, expected_order(&rows, false), "ascending");
    assert_eq!(
        desc,
        expected_order(&rows, true),
        "descending, missing still last"
    );
    assert_eq!(r["asc_state"], "ascending");
    assert_eq!(r["desc_state"], "descending");
    // The values run from 66 to 1,600 tokens/s, so a text sort ("1016" < "116" < "66") would
    // have given another order than the numeric one expected above.
    assert_eq!(
        asc.first().map(String::as_str),
        Some("production/input_1024_n1")
    );
}

#[test]
fn sort_check_sees_a_page_that_does_not_sort() {
    // The same hook on the page without its script: the order does not change, which the
    // test above would catch.
    let dir = tempfile::tempdir().expect("tempdir");
    let page = write_page(dir.path());
    let text = std::fs::read_to_string(&page).unwrap();
    let start = text.rfind("<script>").expect("the page's script");
    let end = start + text[start..].find("</script>").expect("its end") + "</script>".len();
    let without = format!("{}{}", &text[..start], &text[end..]);
    std::fs::write(&page, with_sort_hook(&without)).unwrap();
    let run = load(&page, Mode::DumpDom);
    let r = sort_result(&run.stdout);
    assert_eq!(strings(&r["asc"]), strings(&r["before"]));
    assert_eq!(r["asc_state"], Value::Null);
}
