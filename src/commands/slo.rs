//! `vbench slo` glue: the flags as one `slo:` sweep named `slo`, run by the pipeline (or
//! over the configuration's matrix), like `vbench run` runs any sweep.

use super::{CommandError, Outcome};
use crate::cli::{Global, SloArgs};
use crate::config::{SloBy, SloConfig, SweepConfig, parse_duration, parse_token_count};
use crate::pipeline::RunOptions;

/// The sweep's name, and so the results directory of its files (`<results_dir>/slo/`).
pub const SWEEP: &str = "slo";

fn ms(flag: &str, v: &Option<String>) -> Result<Option<u64>, CommandError> {
    v.as_deref()
        .map(|t| {
            parse_duration(t)
                .map(|d| d.as_millis() as u64)
                .map_err(|e| CommandError::Usage(format!("--{flag} {t}: {e}")))
        })
        .transpose()
}

/// The search the flags describe.
pub fn sweep(args: &SloArgs) -> Result<SweepConfig, CommandError> {
    let mut slo = SloConfig {
        ttft_p99: ms("ttft-p99", &args.ttft_p99)?,
        tpot_p99: ms("tpot-p99", &args.tpot_p99)?,
        e2el_p99: ms("e2el-p99", &args.e2el_p99)?,
        by: if args.rate {
            SloBy::Rate
        } else {
            SloBy::Concurrency
        },
        ..Default::default()
    };
    if let Some(v) = args.start {
        slo.start = v;
    }
    if let Some(v) = args.max {
        slo.max = v;
    }
    if let Some(v) = args.max_points {
        slo.max_points = v;
    }
    if let Some(v) = args.boundary_repeats {
        slo.boundary_repeats = v;
    }
    if let Some(v) = args.precision {
        slo.precision = v;
    }
    slo.check().map_err(|(k, why)| {
        CommandError::Usage(if k == "slo" {
            "give at least one limit: --ttft-p99, --tpot-p99 or --e2el-p99".to_string()
        } else {
            format!("--{}: {why}", k.replace('_', "-"))
        })
    })?;
    let tokens = |flag: &str, t: &str| {
        parse_token_count(t).map_err(|e| CommandError::Usage(format!("--{flag} {t}: {e}")))
    };
    if args.input_len.is_empty() {
        return Err(CommandError::Usage(
            "--input-len: give the input length(s) to search at (`1K`, `1K,4K`)".into(),
        ));
    }
    let Some(output_len) = args.output_len.as_deref() else {
        return Err(CommandError::Usage(
            "--output-len: give the output length in tokens".into(),
        ));
    };
    let input_lens = args
        .input_len
        .iter()
        .map(|t| tokens("input-len", t))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(t) = &args.point_timeout {
        parse_duration(t).map_err(|e| CommandError::Usage(format!("--point-timeout {t}: {e}")))?;
    }
    Ok(SweepConfig {
        input_lens,
        output_len: tokens("output-len", output_len)?,
        concurrency: vec![],
        prompts_per_concurrency: args
            .prompts_per_concurrency
            .unwrap_or(crate::config::SLO_PROMPTS_PER_CONCURRENCY),
        num_prompts: args.num_prompts,
        request_rate: "inf".into(),
        warmups: 0,
        layout: None,
        point_timeout: args.point_timeout.clone(),
        repeats: 1,
        slo: Some(slo),
    })
}

pub async fn cmd(g: &Global, args: SloArgs) -> anyhow::Result<Outcome> {
    let cfg = super::load_for_run(g, &args.overrides, args.pull.as_deref(), &args.matrix)?;
    let cfg = if args.standin {
        crate::server::standin_config(&cfg)
    } else {
        cfg
    };
    // A resumed search runs what its run planned; the flags' search is not needed then.
    let sweeps = if args.resume.is_some() {
        None
    } else {
        Some(vec![(SWEEP.to_string(), sweep(&args)?)])
    };
    let sink = crate::render::sink_for(super::output(g));
    let opts = RunOptions {
        selection: Default::default(),
        sweeps,
        dry_run: args.dry_run,
        resume: args.resume,
        force: args.force,
        restart_server: args.restart_server,
        down: args.down,
        restart: args.restart,
        standin: args.standin,
        docker_host: super::endpoint(g, &cfg).host,
        tls_cert_path: super::endpoint(g, &cfg).tls_cert_path,
        labels: super::labels(),
        exit_now: Some(super::exit_interrupted),
        baseline: None,
        threshold: None,
        cancel: None,
    };
    super::run_or_matrix(&cfg, &opts, sink).await
}
