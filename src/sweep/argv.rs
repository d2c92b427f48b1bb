//! The `vllm bench serve` argv of one sweep point (vllm-contract §8): an argv, never a shell
//! string, so nothing from the configuration is ever interpreted by a shell.

use super::plan::Point;

/// What the argv needs besides the point.
#[derive(Debug, Clone)]
pub struct BenchContext {
    /// `http://<server container>:<port>` (the client reaches the server over the network).
    pub base_url: String,
    /// The id `/v1/models` lists: sent as the request's `model`.
    pub model_id: String,
    /// `--tokenizer` (a path or id the client can load), when configured.
    pub tokenizer: Option<String>,
    pub seed: u64,
    /// Result directory inside the client container.
    pub result_dir: String,
    pub run_id: String,
    /// `client.extra_args`, appended verbatim.
    pub extra_args: Vec<String>,
}

/// The full argv (starting with `vllm`) for `point`, writing `result_filename`.
pub fn bench_argv(point: &Point, ctx: &BenchContext, result_filename: &str) -> Vec<String> {
    let mut v: Vec<String> = [
        "vllm",
        "bench",
        "serve",
        "--backend",
        "openai",
        "--base-url",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut push = |items: &[&str]| v.extend(items.iter().map(|s| s.to_string()));
    push(&[
        &ctx.base_url,
        "--endpoint",
        "/v1/completions",
        "--model",
        &ctx.model_id,
    ]);
    if let Some(t) = &ctx.tokenizer {
        push(&["--tokenizer", t]);
    }
    let (i, o, n, c, seed) = (
        point.input_len.to_string(),
        point.output_len.to_string(),
        point.num_prompts.to_string(),
        point.concurrency.to_string(),
        ctx.seed.to_string(),
    );
    push(&[
        "--dataset-name",
        "random",
        "--random-input-len",
        &i,
        "--random-output-len",
        &o,
    ]);
    // Fixed lengths: no spread, and generation runs to max_tokens (v0.33 forces ignore_eos for
    // `random`; older clients need the flag), greedy so runs compare across vLLM versions.
    push(&[
        "--random-range-ratio",
        "0",
        "--ignore-eos",
        "--temperature",
        "0",
    ]);
    push(&[
        "--num-prompts",
        &n,
        "--max-concurrency",
        &c,
        "--request-rate",
        &point.request_rate,
    ]);
    push(&["--seed", &seed]);
    if point.warmups > 0 {
        let w = point.warmups.to_string();
        push(&["--num-warmups", &w]);
    }
    push(&[
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--metric-percentiles",
        "50,90,99",
    ]);
    v.extend(point.bench_args.iter().cloned());
    let mut push = |items: &[&str]| v.extend(items.iter().map(|s| s.to_string()));
    push(&[
        "--save-result",
        "--result-dir",
        &ctx.result_dir,
        "--result-filename",
        result_filename,
    ]);
    // The JSON carries no provenance of its own: record which run and point wrote it.
    let meta = [
        format!("vbench_run_id={}", ctx.run_id),
        format!("vbench_point={}", point.id),
        format!("input_len={i}"),
        format!("output_len={o}"),
        format!("concurrency={c}"),
    ];
    v.push("--metadata".into());
    v.extend(meta);
    v.push("--disable-tqdm".into());
    v.extend(ctx.extra_args.iter().cloned());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point() -> Point {
        Point {
            id: "production/input_1K_n5".into(),
            sweep: "production".into(),
            input_len: 1024,
            output_len: 500,
            concurrency: 5,
            num_prompts: 5,
            request_rate: "inf".into(),
            warmups: 0,
            dir: "production".into(),
            stem: "input_1K_n5".into(),
            timeout_s: 3600,
            skip: None,
            repeat: 1,
            bench_args: vec![],
        }
    }

    fn ctx() -> BenchContext {
        BenchContext {
            base_url: "http://vllm-server:8000".into(),
            model_id: "openai/gpt-oss-120b".into(),
            tokenizer: None,
            seed: 0,
            result_dir: "/root/bench_results".into(),
            run_id: "20260101_000000-abcd1234".into(),
            extra_args: vec![],
        }
    }

    #[test]
    fn contract_argv() {
        let v = bench_argv(&point(), &ctx(), "input_1K_n5_20260101_000001.json");
        let expect = "vllm bench serve --backend openai --base-url http://vllm-server:8000 --endpoint /v1/completions \
            --model openai/gpt-oss-120b --dataset-name random --random-input-len 1024 --random-output-len 500 \
            --random-range-ratio 0 --ignore-eos --temperature 0 --num-prompts 5 --max-concurrency 5 --request-rate inf \
            --seed 0 --percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,90,99 --save-result \
            --result-dir /root/bench_results --result-filename input_1K_n5_20260101_000001.json --metadata \
            vbench_run_id=20260101_000000-abcd1234 vbench_point=production/input_1K_n5 input_len=1024 output_len=500 \
            concurrency=5 --disable-tqdm";
        let expect: Vec<&str> = expect.split_whitespace().collect();
        assert_eq!(v, expect);
    }

    #[test]
    fn tokenizer_warmups_and_extra_args() {
        let mut p = point();
        p.warmups = 2;
        let mut c = ctx();
        c.tokenizer = Some("/models/tok dir".into());
        c.extra_args = vec!["--label".into(), "x y".into()];
        let v = bench_argv(&p, &c, "f.json");
        let at = v
            .iter()
            .position(|s| s == "--tokenizer")
            .expect("tokenizer");
        // A path with a space stays one argv item: no shell is involved.
        assert_eq!(v[at + 1], "/models/tok dir");
        let w = v
            .iter()
            .position(|s| s == "--num-warmups")
            .expect("warmups");
        assert_eq!(v[w + 1], "2");
        assert_eq!(v[v.len() - 2..], ["--label".to_string(), "x y".to_string()]);
    }
}
