//! The stand-in's "engine": one scheduler task that steps every running sequence together,
//! like vLLM's continuous batching, so latency curves have a GPU server's shape.
//!
//! Each step admits waiting requests (at most `max_num_seqs` running, prompt tokens per step
//! capped by `max_num_batched_tokens`, KV cache capacity respected), then takes
//! `base + prefill_us × new prompt tokens + per_seq × running` where `base` is the TTFT base
//! when the step prefills and the TPOT base otherwise, then hands every running sequence one
//! token. So a lone request sees TTFT = ttft + prefill × P + per_seq and TPOT = tpot + per_seq;
//! queueing (waiting for a slot or for the current step) adds to TTFT; prefills of newcomers
//! stretch the inter-token gaps of running sequences, as on a real GPU.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::tokens;

/// Why a sequence finished (OpenAI's `finish_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Length,
    Stop,
}

impl Finish {
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Length => "length",
            Finish::Stop => "stop",
        }
    }
}

/// One generated token as the HTTP layer sees it.
#[derive(Debug, Clone)]
pub struct Token {
    /// ` word`, or empty for the end-of-sequence token.
    pub text: String,
    pub finish: Option<Finish>,
}

/// A request for the engine.
pub struct Job {
    pub prompt_tokens: usize,
    pub max_tokens: usize,
    pub ignore_eos: bool,
    /// Seed of this request's token stream (server seed mixed with the request).
    pub seed: u64,
    pub out: mpsc::UnboundedSender<Token>,
}

/// The timing model (milliseconds / microseconds as the knobs give them).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub ttft_base_ms: f64,
    pub prefill_us_per_token: f64,
    pub tpot_base_ms: f64,
    pub tpot_per_seq_ms: f64,
}

/// Limits of the scheduler.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_num_seqs: usize,
    pub max_num_batched_tokens: usize,
    pub kv_cache_tokens: u64,
    pub eos_rate: f64,
}

/// Counters shared with the HTTP layer, `/metrics`, the stats logger and the state file.
#[derive(Default)]
pub struct Stats {
    pub running: AtomicU64,
    pub waiting: AtomicU64,
    pub kv_used_tokens: AtomicU64,
    pub prompt_tokens_total: AtomicU64,
    pub generation_tokens_total: AtomicU64,
    pub finished_length: AtomicU64,
    pub finished_stop: AtomicU64,
    pub finished_abort: AtomicU64,
    /// Set by the hang fault: the engine stops stepping.
    pub frozen: AtomicBool,
}

impl Stats {
    pub fn completed(&self) -> u64 {
        self.finished_length.load(Ordering::Relaxed) + self.finished_stop.load(Ordering::Relaxed)
    }
}

/// Handle to submit work.
#[derive(Clone)]
pub struct Engine {
    tx: mpsc::UnboundedSender<Job>,
    pub stats: Arc<Stats>,
    /// Notified after each finished request (fault watchers count completions).
    pub finished: Arc<tokio::sync::Notify>,
}

impl Engine {
    pub fn start(timing: Timing, limits: Limits) -> Engine {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let finished = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(run(rx, timing, limits, stats.clone(), finished.clone()));
        Engine {
            tx,
            stats,
            finished,
        }
    }

    /// Queue a job; `false` if the engine is gone.
    pub fn submit(&self, job: Job) -> bool {
        self.stats.waiting.fetch_add(1, Ordering::Relaxed);
        self.tx.send(job).is_ok()
    }
}

struct Seq {
    job: Job,
    generated: usize,
    rng: u64,
}

/// SplitMix64: a tiny, well-mixed deterministic generator.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Seq {
    /// The next token, and whether the sequence is done.
    fn next(&mut self, eos_rate: f64) -> Token {
        self.generated += 1;
        let r = splitmix(&mut self.rng);
        let is_eos = !self.job.ignore_eos
            && (r >> 11) as f64 / (1u64 << 53) as f64 <= eos_rate
            && eos_rate > 0.0;
        if is_eos {
            return Token {
                text: String::new(),
                finish: Some(Finish::Stop),
            };
        }
        let id = (splitmix(&mut self.rng) % u64::from(tokens::VOCAB_SIZE)) as u32;
        let finish = (self.generated >= self.job.max_tokens).then_some(Finish::Length);
        Token {
            text: format!(" {}", tokens::word(id)),
            finish,
        }
    }

    fn kv_tokens(&self) -> u64 {
        (self.job.prompt_tokens + self.generated) as u64
    }
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Job>,
    timing: Timing,
    limits: Limits,
    stats: Arc<Stats>,
    finished: Arc<tokio::sync::Notify>,
) {
    let mut waiting: VecDeque<Job> = VecDeque::new();
    let mut running: Vec<Seq> = Vec::new();
    let mut step_start = Instant::now();
    loop {
        if running.is_empty() && waiting.is_empty() {
            match rx.recv().await {
                Some(job) => waiting.push_back(job),
                None => return,
            }
            step_start = Instant::now();
        }
        while let Ok(job) = rx.try_recv() {
            waiting.push_back(job);
        }
        if stats.frozen.load(Ordering::Relaxed) {
            // Hang fault: never step again (the process stays alive).
            std::future::pending::<()>().await;
        }

        // Admission: FIFO, as vLLM's default scheduling policy.
        let mut kv_used: u64 = running.iter().map(Seq::kv_tokens).sum();
        let mut new_prompt_tokens = 0usize;
        let mut admitted = 0usize;
        while let Some(front) = waiting.front() {
            if front.out.is_closed() {
                waiting.pop_front();
                stats.waiting.fetch_sub(1, Ordering::Relaxed);
                stats.finished_abort.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let need = (front.prompt_tokens + front.max_tokens) as u64;
            let fits_kv = running.is_empty() || kv_used + need <= limits.kv_cache_tokens;
            let fits_budget = admitted == 0
                || new_prompt_tokens + front.prompt_tokens <= limits.max_num_batched_tokens;
            if running.len() >= limits.max_num_seqs || !fits_kv || !fits_budget {
                break;
            }
            let Some(job) = waiting.pop_front() else {
                break;
            };
            stats.waiting.fetch_sub(1, Ordering::Relaxed);
            stats
                .prompt_tokens_total
                .fetch_add(job.prompt_tokens as u64, Ordering::Relaxed);
            kv_used += job.prompt_tokens as u64;
            new_prompt_tokens += job.prompt_tokens;
            admitted += 1;
            let rng = job.seed;
            running.push(Seq {
                job,
                generated: 0,
                rng,
            });
        }
        stats.running.store(running.len() as u64, Ordering::Relaxed);
        stats.kv_used_tokens.store(kv_used, Ordering::Relaxed);
        if running.is_empty() {
            continue;
        }

        let base = if admitted > 0 {
            timing.ttft_base_ms
        } else {
            timing.tpot_base_ms
        };
        let ms = base
            + timing.prefill_us_per_token * new_prompt_tokens as f64 / 1000.0
            + timing.tpot_per_seq_ms * running.len() as f64;
        let deadline = step_start + Duration::from_secs_f64(ms / 1000.0);
        tokio::time::sleep_until(deadline).await;
        let now = Instant::now();
        // Keep steps on their schedule unless we fell behind by more than a timer tick.
        step_start = if now.duration_since(deadline) > Duration::from_millis(2) {
            now
        } else {
            deadline
        };
        if stats.frozen.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }

        let mut done_any = false;
        running.retain_mut(|seq| {
            let tok = seq.next(limits.eos_rate);
            let finish = tok.finish;
            stats
                .generation_tokens_total
                .fetch_add(1, Ordering::Relaxed);
            let delivered = seq.job.out.send(tok).is_ok();
            match (delivered, finish) {
                (false, _) => {
                    stats.finished_abort.fetch_add(1, Ordering::Relaxed);
                    false
                }
                (true, Some(Finish::Length)) => {
                    stats.finished_length.fetch_add(1, Ordering::Relaxed);
                    done_any = true;
                    false
                }
                (true, Some(Finish::Stop)) => {
                    stats.finished_stop.fetch_add(1, Ordering::Relaxed);
                    done_any = true;
                    false
                }
                (true, None) => true,
            }
        });
        stats.running.store(running.len() as u64, Ordering::Relaxed);
        stats
            .kv_used_tokens
            .store(running.iter().map(Seq::kv_tokens).sum(), Ordering::Relaxed);
        if done_any {
            finished.notify_waiters();
        }
    }
}
