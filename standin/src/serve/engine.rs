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
//!
//! Two more pieces of vLLM's V1 scheduler are modelled because `/metrics` exposes them:
//! - **Prefix caching** (on by default in vLLM): prompts are cut into blocks of `block_size`
//!   tokens, each named by a hash chained over the blocks before it; a new request reuses the
//!   leading blocks some earlier prompt already computed (never its whole prompt: the last
//!   token is always recomputed, as in vLLM) and prefills only the rest. The cache holds as
//!   many blocks as the KV cache does, least recently used evicted first.
//! - **Recompute preemption**: admission only needs room for the prompt (plus the first
//!   token), so sequences that keep growing can run out of KV cache. Before each step the
//!   running sequences must each have room for one more token; while they do not, the most
//!   recently admitted one is preempted (its KV freed, put back at the head of the waiting
//!   queue, later re-admitted with a prefill of its prompt plus what it had generated). A
//!   sequence that runs alone is never preempted (it may overrun a tiny KV cache instead).

use std::collections::{BTreeMap, HashMap, VecDeque};
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
    /// Chained hashes of the prompt's full blocks (see [`block_hashes`]).
    pub block_hashes: Vec<u64>,
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
    /// Tokens per KV block (`--block-size`): the prefix cache's unit.
    pub block_size: usize,
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
    /// Running sequences sent back to waiting because the KV cache was full.
    pub preemptions: AtomicU64,
    /// Prompt tokens looked up in the prefix cache (first admissions only, as vLLM counts).
    pub prefix_cache_queries: AtomicU64,
    /// Prompt tokens found in the prefix cache.
    pub prefix_cache_hits: AtomicU64,
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
    /// Admitted at least once (a preempted sequence is re-admitted without a cache query).
    started: bool,
}

/// Chained hashes of the full `block`-token blocks of `ids`: block i's hash covers blocks
/// 0..=i, so equal hashes mean equal prefixes (vLLM's block hashes work the same way).
pub fn block_hashes(ids: &[u32], block: usize) -> Vec<u64> {
    let mut parent: u64 = 0xcbf2_9ce4_8422_2325;
    ids.chunks_exact(block.max(1))
        .map(|chunk| {
            let mut h = parent;
            for id in chunk {
                h ^= u64::from(*id);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            let mut state = h;
            parent = splitmix(&mut state);
            parent
        })
        .collect()
}

/// The prefix cache: block hash → last use, evicting the least recently used block beyond
/// `capacity` blocks.
struct PrefixCache {
    capacity: usize,
    last_use: HashMap<u64, u64>,
    by_age: BTreeMap<u64, u64>,
    tick: u64,
}

impl PrefixCache {
    fn new(capacity: usize) -> Self {
        PrefixCache {
            capacity: capacity.max(1),
            last_use: HashMap::new(),
            by_age: BTreeMap::new(),
            tick: 0,
        }
    }

    /// Prompt tokens a request can reuse: its leading cached blocks, within the first
    /// `prompt_tokens - 1` tokens (vLLM always computes at least the last prompt token).
    fn hit_tokens(&self, hashes: &[u64], prompt_tokens: usize, block: usize) -> usize {
        let usable = prompt_tokens.saturating_sub(1) / block.max(1);
        hashes
            .iter()
            .take(usable)
            .take_while(|h| self.last_use.contains_key(h))
            .count()
            * block
    }

    /// The request's blocks are now computed: insert them (or refresh their age).
    fn insert(&mut self, hashes: &[u64]) {
        for h in hashes {
            self.tick += 1;
            if let Some(old) = self.last_use.insert(*h, self.tick) {
                self.by_age.remove(&old);
            }
            self.by_age.insert(self.tick, *h);
        }
        while self.last_use.len() > self.capacity {
            let Some((_, h)) = self.by_age.pop_first() else {
                break;
            };
            self.last_use.remove(&h);
        }
    }
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
    let new_seq = |job: Job| {
        let rng = job.seed;
        Seq {
            job,
            generated: 0,
            rng,
            started: false,
        }
    };
    let block = limits.block_size.max(1);
    let mut cache = PrefixCache::new((limits.kv_cache_tokens / block as u64) as usize);
    let mut waiting: VecDeque<Seq> = VecDeque::new();
    let mut running: Vec<Seq> = Vec::new();
    let mut step_start = Instant::now();
    loop {
        if running.is_empty() && waiting.is_empty() {
            match rx.recv().await {
                Some(job) => waiting.push_back(new_seq(job)),
                None => return,
            }
            step_start = Instant::now();
        }
        while let Ok(job) = rx.try_recv() {
            waiting.push_back(new_seq(job));
        }
        if stats.frozen.load(Ordering::Relaxed) {
            // Hang fault: never step again (the process stays alive).
            std::future::pending::<()>().await;
        }

        // Running sequences first: each needs room for one more token this step; preempt the
        // most recently admitted until they fit (vLLM's FCFS policy, recompute mode).
        let mut kv_used: u64 = running.iter().map(Seq::kv_tokens).sum();
        while running.len() > 1 && kv_used + running.len() as u64 > limits.kv_cache_tokens {
            let Some(victim) = running.pop() else {
                break;
            };
            kv_used -= victim.kv_tokens();
            waiting.push_front(victim);
            stats.waiting.fetch_add(1, Ordering::Relaxed);
            stats.preemptions.fetch_add(1, Ordering::Relaxed);
        }

        // Admission: FIFO, as vLLM's default scheduling policy; a request needs room for its
        // prompt (and what it had generated, after a preemption) plus its next token.
        let mut reserved = kv_used + running.len() as u64;
        let mut new_prompt_tokens = 0usize;
        let mut admitted = 0usize;
        while let Some(front) = waiting.front() {
            if front.job.out.is_closed() {
                waiting.pop_front();
                stats.waiting.fetch_sub(1, Ordering::Relaxed);
                stats.finished_abort.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let hits = if front.started {
                0
            } else {
                cache.hit_tokens(&front.job.block_hashes, front.job.prompt_tokens, block)
            };
            // Tokens to compute now: the uncached prompt, or a preempted sequence's whole
            // context (recompute).
            let compute = front.kv_tokens() as usize - hits;
            let need = front.kv_tokens() + 1;
            let fits_kv = running.is_empty() || reserved + need <= limits.kv_cache_tokens;
            let fits_budget =
                admitted == 0 || new_prompt_tokens + compute <= limits.max_num_batched_tokens;
            if running.len() >= limits.max_num_seqs || !fits_kv || !fits_budget {
                break;
            }
            let Some(mut seq) = waiting.pop_front() else {
                break;
            };
            stats.waiting.fetch_sub(1, Ordering::Relaxed);
            if !seq.started {
                // vLLM counts a request's prompt once (cached part included), not recomputes.
                seq.started = true;
                stats
                    .prompt_tokens_total
                    .fetch_add(seq.job.prompt_tokens as u64, Ordering::Relaxed);
                stats
                    .prefix_cache_queries
                    .fetch_add(seq.job.prompt_tokens as u64, Ordering::Relaxed);
                stats
                    .prefix_cache_hits
                    .fetch_add(hits as u64, Ordering::Relaxed);
                cache.insert(&seq.job.block_hashes);
            }
            reserved += need;
            kv_used += seq.kv_tokens();
            new_prompt_tokens += compute;
            admitted += 1;
            running.push(seq);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_hashes_name_prefixes_not_blocks() {
        let a: Vec<u32> = (0..40).collect();
        let mut b = a.clone();
        b[20] = 999; // differs in the second block
        let (ha, hb) = (block_hashes(&a, 16), block_hashes(&b, 16));
        assert_eq!(ha.len(), 2, "only full blocks are hashed");
        assert_eq!(ha[0], hb[0]);
        assert_ne!(ha[1], hb[1]);
        // The same block content after a different first block has another hash.
        let mut c = a.clone();
        c[0] = 7;
        assert_ne!(block_hashes(&c, 16)[1], ha[1]);
    }

    #[test]
    fn prefix_cache_hits_leading_blocks_never_the_whole_prompt_and_evicts_lru() {
        let mut cache = PrefixCache::new(3);
        let p: Vec<u32> = (0..48).collect();
        let h = block_hashes(&p, 16);
        assert_eq!(cache.hit_tokens(&h, 48, 16), 0);
        cache.insert(&h);
        // 48 tokens = 3 full blocks, but the last token must be computed: 2 blocks reusable.
        assert_eq!(cache.hit_tokens(&h, 48, 16), 32);
        // A longer prompt with the same start reuses all three.
        let q: Vec<u32> = (0..50).collect();
        assert_eq!(cache.hit_tokens(&block_hashes(&q, 16), 50, 16), 48);
        // A fourth block evicts the least recently used one (block 0), so nothing matches.
        let other = block_hashes(&[9; 16], 16);
        cache.insert(&other);
        assert_eq!(cache.hit_tokens(&h, 48, 16), 0);
    }
}
