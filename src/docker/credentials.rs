//! Registry credentials from the user's Docker configuration, found the way the `docker` CLI
//! finds them, so a `docker login` that works for `docker pull` works for vbench:
//!
//! - the file: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`;
//! - the key: the registry's host[:port], or `https://index.docker.io/v1/` for Docker Hub
//!   (see [`super::reference::ImageRef::config_key`]);
//! - the store: `credHelpers[key]` if set, else `credsStore` if set (both name a program
//!   `docker-credential-<name>`, run as `get` with the key on stdin, answering JSON
//!   `{"ServerURL", "Username", "Secret"}`; a `Username` of `<token>` means an identity token),
//!   else `auths[key]` (`auth` = base64 of `user:password`, or `username`/`password`,
//!   or `identitytoken`); an `auths` key written as a URL (`https://host/v1/`) matches its host.
//!
//! The lookup is pure apart from running a helper, which goes through [`HelperRunner`] (tests
//! give it a fake helper on their own search path, never the process's `PATH`). A problem
//! (unreadable file, bad `auth`, a helper that fails) is not fatal, as with `docker`: the pull
//! goes on anonymously and the problem is reported with it, and named if the registry then
//! refuses.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

/// How long a credential helper may take (a keychain may be slow to unlock, never this slow).
const HELPER_DEADLINE: Duration = Duration::from_secs(30);

/// What a helper answers when it has nothing for the server (and exits non-zero).
const HELPER_NOT_FOUND: &str = "credentials not found in native keychain";

/// Credentials for one registry, in the form the engine takes (`X-Registry-Auth`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct RegistryAuth {
    pub username: Option<String>,
    pub password: Option<String>,
    /// An OAuth identity token (a helper's `<token>` user, or `identitytoken` in `auths`).
    pub identity_token: Option<String>,
    /// The `config.json` key the credentials were found under.
    pub server_address: String,
}

impl std::fmt::Debug for RegistryAuth {
    /// Never the secret: these end up in error chains and test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "***"),
            )
            .field("server_address", &self.server_address)
            .finish()
    }
}

/// The outcome of a lookup for one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// None: pull anonymously.
    pub auth: Option<RegistryAuth>,
    /// Where the credentials came from, for messages (`auths in /root/.docker/config.json`,
    /// `credential helper docker-credential-pass`); None when there are none.
    pub from: Option<String>,
    /// Why credentials that seem configured could not be used (the pull then goes on
    /// anonymously, as `docker pull` does).
    pub problem: Option<String>,
}

/// The parts of Docker's `config.json` that hold credentials (everything else is ignored).
#[derive(Debug, Default, Deserialize)]
pub struct ConfigFile {
    #[serde(default)]
    pub auths: BTreeMap<String, AuthEntry>,
    #[serde(rename = "credsStore", default)]
    pub creds_store: Option<String>,
    #[serde(rename = "credHelpers", default)]
    pub cred_helpers: BTreeMap<String, String>,
}

/// One `auths` entry.
#[derive(Debug, Default, Deserialize)]
pub struct AuthEntry {
    #[serde(default)]
    pub auth: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub identitytoken: Option<String>,
}

/// A helper's answer to `get`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HelperReply {
    #[serde(rename = "Username", default)]
    pub username: String,
    #[serde(rename = "Secret", default)]
    pub secret: String,
}

/// Runs `docker-credential-<helper> get`.
pub trait HelperRunner: Send + Sync {
    /// `Ok(None)`: the helper has no credentials for `server`. `Err`: it could not be run or
    /// failed otherwise (the text says how).
    fn get(&self, helper: &str, server: &str) -> Result<Option<HelperReply>, String>;
}

/// The real runner: finds `docker-credential-<helper>` in a search path (the process's `PATH`
/// unless given) and runs it with a deadline.
#[derive(Debug, Clone)]
pub struct ProcessHelper {
    search_path: Option<OsString>,
}

impl ProcessHelper {
    /// Search `path` (a `PATH`-style list); None: the process's `PATH`.
    pub fn new(path: Option<OsString>) -> Self {
        Self { search_path: path }
    }

    fn find(&self, program: &str) -> Option<PathBuf> {
        let path = self
            .search_path
            .clone()
            .or_else(|| std::env::var_os("PATH"))?;
        std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    }
}

impl HelperRunner for ProcessHelper {
    fn get(&self, helper: &str, server: &str) -> Result<Option<HelperReply>, String> {
        let program = format!("docker-credential-{helper}");
        let exe = self
            .find(&program)
            .ok_or_else(|| format!("credential helper {program} is not installed (not on PATH)"))?;
        let mut child = std::process::Command::new(&exe)
            .arg("get")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            // Docker writes the bare server URL, no newline; a helper that exits early is
            // reported by its exit status below.
            let _ = stdin.write_all(server.as_bytes());
        }
        // Read both pipes on threads so a chatty helper cannot block on a full pipe.
        let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_string(&mut s);
                }
                s
            })
        };
        let out = drain(child.stdout.take().map(|s| Box::new(s) as _));
        let err = drain(child.stderr.take().map(|s| Box::new(s) as _));
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if start.elapsed() < HELPER_DEADLINE => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => {
                    // Our own child, by its handle.
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "{program} get did not answer within {HELPER_DEADLINE:?}"
                    ));
                }
                Err(e) => return Err(format!("cannot wait for {program}: {e}")),
            }
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        if !status.success() {
            let said = format!("{} {}", stdout.trim(), stderr.trim());
            if said.contains(HELPER_NOT_FOUND) {
                return Ok(None);
            }
            return Err(format!("{program} get failed ({status}): {}", said.trim()));
        }
        serde_json::from_str::<HelperReply>(stdout.trim())
            .map(Some)
            .map_err(|e| {
                format!("{program} get answered something other than credentials JSON: {e}")
            })
    }
}

/// The user's Docker configuration, read once, and the helper runner.
#[derive(Clone)]
pub struct Credentials {
    /// The file looked at; None when no location could be made out (no HOME, no DOCKER_CONFIG).
    path: Option<PathBuf>,
    /// The parsed file: Ok(None) when it does not exist; Err(why) when unusable.
    file: Arc<Result<Option<ConfigFile>, String>>,
    runner: Arc<dyn HelperRunner>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Where Docker keeps `config.json`: `$DOCKER_CONFIG`, else `$HOME/.docker`.
pub fn config_dir(env: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    env("DOCKER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".docker"))
        })
}

impl Credentials {
    /// The process's Docker configuration (`DOCKER_CONFIG` / `HOME`) and `PATH`.
    pub fn from_env() -> Self {
        let dir = config_dir(&|k| std::env::var_os(k));
        Self::load(dir.map(|d| d.join("config.json")), ProcessHelper::new(None))
    }

    /// `dir/config.json`, helpers searched in `search_path` (None: the process's `PATH`).
    pub fn from_dir(dir: &Path, search_path: Option<OsString>) -> Self {
        Self::load(
            Some(dir.join("config.json")),
            ProcessHelper::new(search_path),
        )
    }

    /// No credentials at all (anonymous pulls).
    pub fn none() -> Self {
        Self::with(
            None,
            Ok(None),
            Arc::new(ProcessHelper::new(Some(OsString::new()))),
        )
    }

    /// A parsed file and any runner (tests).
    pub fn with(
        path: Option<PathBuf>,
        file: Result<Option<ConfigFile>, String>,
        runner: Arc<dyn HelperRunner>,
    ) -> Self {
        Self {
            path,
            file: Arc::new(file),
            runner,
        }
    }

    fn load(path: Option<PathBuf>, runner: ProcessHelper) -> Self {
        let file = match &path {
            None => Ok(None),
            Some(p) => match std::fs::read_to_string(p) {
                Ok(text) => parse(&text)
                    .map(Some)
                    .map_err(|e| format!("{}: {e}", p.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("cannot read {}: {e}", p.display())),
            },
        };
        Self::with(path, file, Arc::new(runner))
    }

    /// The file these credentials come from (whether or not it exists).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Credentials for the registry whose `config.json` key is `key`.
    pub fn lookup(&self, key: &str) -> Lookup {
        let file = match self.file.as_ref() {
            Ok(Some(f)) => f,
            Ok(None) => return Lookup::default(),
            Err(why) => {
                return Lookup {
                    problem: Some(format!("Docker configuration unusable: {why}")),
                    ..Default::default()
                };
            }
        };
        let shown = self
            .path
            .as_ref()
            .map_or("config.json".to_string(), |p| p.display().to_string());
        lookup_in(file, &shown, key, self.runner.as_ref())
    }
}

/// Parse `config.json` (only the credential keys are read).
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    serde_json::from_str(text).map_err(|e| format!("not a Docker config.json: {e}"))
}

/// Docker's `ConvertToHostname`: `https://host/v1/` → `host`.
pub fn to_hostname(key: &str) -> &str {
    let s = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
        .unwrap_or(key);
    s.split('/').next().unwrap_or(s)
}

/// The lookup itself: helper for `key`, else the default store, else `auths`.
pub fn lookup_in(file: &ConfigFile, shown: &str, key: &str, runner: &dyn HelperRunner) -> Lookup {
    let helper = file
        .cred_helpers
        .get(key)
        .or(file.creds_store.as_ref())
        .filter(|h| !h.is_empty());
    if let Some(helper) = helper {
        let from = format!("credential helper docker-credential-{helper}");
        return match runner.get(helper, key) {
            Ok(Some(reply)) if !reply.username.is_empty() || !reply.secret.is_empty() => {
                let mut auth = RegistryAuth {
                    server_address: key.to_string(),
                    ..Default::default()
                };
                if reply.username == "<token>" {
                    auth.identity_token = Some(reply.secret);
                } else {
                    auth.username = Some(reply.username);
                    auth.password = Some(reply.secret);
                }
                Lookup {
                    auth: Some(auth),
                    from: Some(from),
                    problem: None,
                }
            }
            Ok(_) => Lookup::default(),
            Err(why) => Lookup {
                problem: Some(why),
                ..Default::default()
            },
        };
    }
    let entry = file.auths.get(key).map(|e| (key, e)).or_else(|| {
        file.auths
            .iter()
            .find(|(k, _)| to_hostname(k) == key)
            .map(|(k, e)| (k.as_str(), e))
    });
    let Some((entry_key, entry)) = entry else {
        return Lookup::default();
    };
    let from = format!("auths[\"{entry_key}\"] in {shown}");
    let mut auth = RegistryAuth {
        server_address: key.to_string(),
        username: entry.username.clone().filter(|s| !s.is_empty()),
        password: entry.password.clone().filter(|s| !s.is_empty()),
        identity_token: entry.identitytoken.clone().filter(|s| !s.is_empty()),
    };
    if let Some(b64) = entry.auth.as_deref().filter(|s| !s.is_empty()) {
        match decode_auth(b64) {
            Ok((u, p)) => {
                auth.username = Some(u);
                auth.password = Some(p);
            }
            Err(why) => {
                return Lookup {
                    problem: Some(format!("{from}: {why}")),
                    ..Default::default()
                };
            }
        }
    }
    if auth.username.is_none() && auth.password.is_none() && auth.identity_token.is_none() {
        // `docker login` with a credential store leaves an empty entry behind.
        return Lookup::default();
    }
    Lookup {
        auth: Some(auth),
        from: Some(from),
        problem: None,
    }
}

/// `auth`: base64 of `user:password` (the password may contain `:`).
fn decode_auth(b64: &str) -> Result<(String, String), String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("`auth` is not base64 ({e})"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| "`auth` does not decode to text".to_string())?;
    let (u, p) = text
        .split_once(':')
        .ok_or_else(|| "`auth` does not decode to user:password".to_string())?;
    Ok((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    /// Records the calls; answers from a table.
    #[derive(Default)]
    struct FakeRunner {
        answers: BTreeMap<(String, String), Result<Option<HelperReply>, String>>,
        calls: Mutex<Vec<(String, String)>>,
    }

    impl HelperRunner for FakeRunner {
        fn get(&self, helper: &str, server: &str) -> Result<Option<HelperReply>, String> {
            self.calls
                .lock()
                .unwrap()
                .push((helper.to_string(), server.to_string()));
            self.answers
                .get(&(helper.to_string(), server.to_string()))
                .cloned()
                .unwrap_or(Ok(None))
        }
    }

    fn creds(text: &str, runner: Arc<dyn HelperRunner>) -> Credentials {
        Credentials::with(
            Some("/home/u/.docker/config.json".into()),
            parse(text).map(Some),
            runner,
        )
    }

    #[test]
    fn auths_base64_user_password() {
        let text = format!(
            r#"{{"auths": {{"127.0.0.1:5000": {{"auth": "{}"}}, "https://index.docker.io/v1/": {{"auth": "{}"}}}}}}"#,
            b64("alice:pa:ss"),
            b64("hubuser:hubpass")
        );
        let c = creds(&text, Arc::new(FakeRunner::default()));
        let l = c.lookup("127.0.0.1:5000");
        let a = l.auth.expect("found");
        assert_eq!(a.username.as_deref(), Some("alice"));
        assert_eq!(
            a.password.as_deref(),
            Some("pa:ss"),
            "only the first `:` splits"
        );
        assert_eq!(a.server_address, "127.0.0.1:5000");
        assert!(l.from.unwrap().contains("auths[\"127.0.0.1:5000\"]"));
        let hub = c.lookup("https://index.docker.io/v1/").auth.expect("hub");
        assert_eq!(hub.username.as_deref(), Some("hubuser"));
        assert_eq!(c.lookup("ghcr.io"), Lookup::default());
        // The secret never shows in Debug.
        assert!(!format!("{a:?}").contains("pa:ss"));
    }

    #[test]
    fn auths_keys_written_as_urls_match_their_host() {
        let text = format!(
            r#"{{"auths": {{"https://registry.example.com/v1/": {{"auth": "{}"}}}}}}"#,
            b64("u:p")
        );
        let c = creds(&text, Arc::new(FakeRunner::default()));
        assert_eq!(
            c.lookup("registry.example.com")
                .auth
                .and_then(|a| a.username),
            Some("u".into())
        );
        assert_eq!(to_hostname("http://h:5000/x"), "h:5000");
        assert_eq!(to_hostname("h:5000"), "h:5000");
    }

    #[test]
    fn username_password_and_identity_token_fields() {
        let text = r#"{"auths": {"a.io": {"username": "u", "password": "p"}, "b.io": {"identitytoken": "tok"}, "c.io": {}}}"#;
        let c = creds(text, Arc::new(FakeRunner::default()));
        let a = c.lookup("a.io").auth.unwrap();
        assert_eq!(
            (a.username.as_deref(), a.password.as_deref()),
            (Some("u"), Some("p"))
        );
        assert_eq!(
            c.lookup("b.io").auth.unwrap().identity_token.as_deref(),
            Some("tok")
        );
        // An empty entry (left by `docker login` with a credential store) is no credentials.
        assert_eq!(c.lookup("c.io"), Lookup::default());
    }

    #[test]
    fn bad_auth_is_a_problem_not_a_crash() {
        for bad in ["!!!not base64", &b64("no-colon")] {
            let text = format!(r#"{{"auths": {{"r.io": {{"auth": "{bad}"}}}}}}"#);
            let l = creds(&text, Arc::new(FakeRunner::default())).lookup("r.io");
            assert!(l.auth.is_none());
            let p = l.problem.expect("problem");
            assert!(p.contains("auths[\"r.io\"]") && p.contains("`auth`"), "{p}");
        }
        let broken = Credentials::with(
            Some("/x/config.json".into()),
            parse("{not json").map(Some),
            Arc::new(FakeRunner::default()),
        );
        assert!(
            broken
                .lookup("r.io")
                .problem
                .unwrap()
                .contains("not a Docker config.json")
        );
    }

    #[test]
    fn helpers_take_precedence_per_registry_then_the_store() {
        let mut runner = FakeRunner::default();
        let reply = |u: &str, s: &str| {
            Ok(Some(HelperReply {
                username: u.into(),
                secret: s.into(),
            }))
        };
        runner.answers.insert(
            ("ecr".into(), "123.dkr.ecr.aws".into()),
            reply("AWS", "ecrpass"),
        );
        runner.answers.insert(
            ("desktop".into(), "https://index.docker.io/v1/".into()),
            reply("<token>", "idtok"),
        );
        runner
            .answers
            .insert(("desktop".into(), "broken.io".into()), Err("boom".into()));
        let runner = Arc::new(runner);
        let text = format!(
            r#"{{"auths": {{"123.dkr.ecr.aws": {{"auth": "{}"}}, "plain.io": {{"auth": "{}"}}}},
                "credsStore": "desktop", "credHelpers": {{"123.dkr.ecr.aws": "ecr"}}}}"#,
            b64("file:ignored"),
            b64("file:also-ignored")
        );
        let c = creds(&text, runner.clone());
        let ecr = c.lookup("123.dkr.ecr.aws");
        assert_eq!(
            ecr.auth.as_ref().unwrap().password.as_deref(),
            Some("ecrpass")
        );
        assert_eq!(
            ecr.from.as_deref(),
            Some("credential helper docker-credential-ecr")
        );
        let hub = c.lookup("https://index.docker.io/v1/").auth.unwrap();
        assert_eq!(hub.identity_token.as_deref(), Some("idtok"));
        assert_eq!(hub.username, None);
        // With a credsStore, `auths` is not consulted (as in Docker): nothing found is nothing.
        assert_eq!(c.lookup("plain.io"), Lookup::default());
        assert_eq!(c.lookup("broken.io").problem.as_deref(), Some("boom"));
        let calls = runner.calls.lock().unwrap().clone();
        assert_eq!(calls[0], ("ecr".to_string(), "123.dkr.ecr.aws".to_string()));
        assert_eq!(calls.len(), 4);
    }

    #[test]
    fn config_dir_follows_docker_config_then_home() {
        let env = |m: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                m.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert_eq!(
            config_dir(&env(&[("DOCKER_CONFIG", "/etc/dc"), ("HOME", "/root")])),
            Some(PathBuf::from("/etc/dc"))
        );
        assert_eq!(
            config_dir(&env(&[("DOCKER_CONFIG", ""), ("HOME", "/root")])),
            Some(PathBuf::from("/root/.docker"))
        );
        assert_eq!(config_dir(&env(&[])), None);
    }

    /// A real helper program found on a search path of the test's own (never the process's
    /// PATH, which other tests share).
    #[cfg(unix)]
    #[test]
    fn a_real_helper_script_on_a_private_path() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let script = bin.join("docker-credential-fake");
        // Echoes the server it was asked about back as the user name; "missing.io" is unknown.
        std::fs::write(
            &script,
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r server || true\n\
             case \"$server\" in missing.io) echo 'credentials not found in native keychain'; exit 1;;\n\
             crash.io) echo 'keychain locked' >&2; exit 3;; esac\n\
             printf '{\"ServerURL\":\"%s\",\"Username\":\"user-%s\",\"Secret\":\"s3cret\"}\\n' \"$server\" \"$server\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"credHelpers": {"r.io": "fake", "missing.io": "fake", "crash.io": "fake", "gone.io": "absent"}}"#,
        )
        .unwrap();
        let c = Credentials::from_dir(dir.path(), Some(bin.clone().into_os_string()));
        let l = c.lookup("r.io");
        let a = l.auth.expect("helper answered");
        assert_eq!(a.username.as_deref(), Some("user-r.io"));
        assert_eq!(a.password.as_deref(), Some("s3cret"));
        assert_eq!(c.lookup("missing.io"), Lookup::default());
        let crash = c.lookup("crash.io").problem.unwrap();
        assert!(
            crash.contains("docker-credential-fake get failed")
                && crash.contains("keychain locked"),
            "{crash}"
        );
        let gone = c.lookup("gone.io").problem.unwrap();
        assert!(
            gone.contains("docker-credential-absent is not installed"),
            "{gone}"
        );
        // No config.json at all: anonymous, no problem.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            Credentials::from_dir(empty.path(), None).lookup("r.io"),
            Lookup::default()
        );
    }
}
