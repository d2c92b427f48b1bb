//! The human text of events, shared by the terminal and plain renderers: a one-line form for
//! the progress stream (stderr), and the multi-line blocks that are a command's result (the
//! dry-run plan, the summary table, the comparison headline) for stdout.

use std::time::Duration;

use crate::events::{ComparisonSummary, Event, Level, PlanView, RunSummary, SignalAction};
use crate::sweep::estimate;

/// The one-line form of an event (what plain mode timestamps).
pub fn line(event: &Event) -> String {
    match event {
        Event::Message { level, text } => match level {
            Level::Info => text.clone(),
            Level::Warn => format!("warning: {text}"),
            Level::Error => format!("error: {text}"),
        },
        Event::StageStarted { stage, detail } => format!("{stage}: {detail}"),
        Event::StageProgress {
            stage,
            detail,
            elapsed_s,
        } => format!("{stage}: {detail} ({elapsed_s:.0}s)"),
        Event::StageFinished {
            stage,
            detail,
            elapsed_s,
        } => format!("{stage}: {detail} in {elapsed_s:.1}s"),
        Event::Plan(p) => format!(
            "plan: {} point(s), estimated {}",
            p.points.len(),
            human_s(p.total_estimate_s)
        ),
        Event::RunStarted {
            run_id,
            run_dir,
            points,
            total,
            resumed,
        } => {
            let verb = if *resumed { "resuming" } else { "starting" };
            format!("run {run_id}: {verb}, {points} of {total} point(s) to run ({run_dir})")
        }
        Event::PointStarted {
            i,
            n,
            name,
            num_prompts,
            concurrency,
            ..
        } => format!(
            "[{i}/{n}] {name}: running ({num_prompts} prompt(s), max concurrency {concurrency})"
        ),
        Event::PointFinished {
            i,
            n,
            name,
            status,
            ttft_ms,
            tpot_ms,
            throughput,
            elapsed_s,
            reason,
            ..
        } => {
            let mut s = format!("[{i}/{n}] {name}: {status} in {elapsed_s:.1}s");
            if let (Some(t), Some(p), Some(r)) = (ttft_ms, tpot_ms, throughput) {
                s.push_str(&format!(", TTFT {t:.1} ms, TPOT {p:.2} ms, {r:.2} req/s"));
            }
            if let Some(r) = reason {
                s.push_str(&format!(" ({r})"));
            }
            s
        }
        Event::PointSkipped { name, reason } => format!("{name}: skipped ({reason})"),
        Event::RunFinished {
            run_id,
            status,
            ok,
            failed,
            skipped,
            pending,
            elapsed_s,
            run_dir,
            ..
        } => format!(
            "run {run_id}: {status} in {elapsed_s:.1}s: {ok} ok, {failed} failed, {skipped} skipped, {pending} pending ({run_dir})"
        ),
        Event::Summary(s) => status_line(s),
        Event::Comparison(c) => comparison_line(c),
        Event::Verdict(v) => v.render().trim_end().to_string(),
        Event::Unreadable {
            file,
            line,
            column,
            message,
        } => format!("warning: {file}:{line}:{column}: not imported: {message}"),
        Event::PullStarted {
            image,
            registry,
            credentials,
        } => format!(
            "pulling {image} from {registry} ({})",
            credentials
                .as_ref()
                .map_or("anonymously".to_string(), |c| format!("credentials: {c}"))
        ),
        Event::PullProgress {
            image,
            layer,
            status,
            total,
            ..
        } => match total {
            // One line per status (plain mode): the size says more than a byte count that is
            // stale by the next line.
            Some(t) => format!("{image}: layer {layer}: {status} ({})", mib(*t)),
            None => format!("{image}: layer {layer}: {status}"),
        },
        Event::PullFinished {
            image,
            digest,
            layers,
            downloaded,
            elapsed_s,
        } => format!(
            "pulled {image} ({}; {layers} layer(s), {} downloaded) in {elapsed_s:.1}s",
            digest.as_deref().unwrap_or("no registry digest"),
            mib(*downloaded)
        ),
        // The error itself follows as the command's error: not repeated here.
        Event::PullFailed {
            image, registry, ..
        } => format!("pull of {image} from {registry} failed"),
        Event::SloResult(s) => s.headline(),
        Event::MatrixPlan(p) => format!(
            "matrix plan: {} combination(s), {} point(s), estimated {}",
            p.combinations.len(),
            p.points,
            human_s(p.total_estimate_s)
        ),
        Event::CombinationStarted {
            i,
            n,
            name,
            settings,
            resumed,
            ..
        } => format!(
            "combination {i}/{n} {name}: {} ({})",
            if *resumed { "resuming" } else { "starting" },
            if settings.is_empty() {
                "the server section as it is".to_string()
            } else {
                settings.join("; ")
            }
        ),
        Event::CombinationFinished {
            i,
            n,
            name,
            status,
            run_id,
            cause,
            ..
        } => {
            let mut s = format!("combination {i}/{n} {name}: {status}");
            if let Some(r) = run_id {
                s.push_str(&format!(" (run {r})"));
            }
            if let Some(c) = cause.as_deref().and_then(|c| c.lines().next()) {
                s.push_str(&format!(": {c}"));
            }
            s
        }
        Event::MatrixSummary(s) => format!("matrix {}: {} ({})", s.matrix_id, s.status, s.dir),
        Event::FanoutStarted {
            fanout_id,
            mode,
            hosts,
            units,
            resumed,
            ..
        } => format!(
            "fan-out {fanout_id}: {} {mode} over {}{}",
            if *resumed { "resuming" } else { "starting" },
            hosts.join(", "),
            if *units > 0 {
                format!(" ({units} unit(s) to share)")
            } else {
                String::new()
            }
        ),
        Event::OnHost { host, inner } => format!("[{host}] {}", line(inner)),
        Event::UnitRequeued {
            host, unit, cause, ..
        } => format!(
            "[{host}] failed ({}); {unit} goes back to the other hosts",
            cause.lines().next().unwrap_or("")
        ),
        Event::HostFinished {
            host,
            status,
            run_ids,
            cause,
            ..
        } => {
            let mut s = format!("host {host}: {status} ({} run(s))", run_ids.len());
            if let Some(c) = cause.as_deref().and_then(|c| c.lines().next()) {
                s.push_str(&format!(": {c}"));
            }
            s
        }
        Event::FanoutSummary(s) => format!("fan-out {}: {} ({})", s.fanout_id, s.status, s.dir),
        Event::Signal { signal, action } => match action {
            SignalAction::Stopping => format!(
                "{signal}: stopping the benchmark in the client and saving the run (a second SIGINT or SIGTERM quits at once)"
            ),
            SignalAction::ExitingNow => format!(
                "second signal ({signal}): exiting now; the manifest may show the point as running (resume recovers it)"
            ),
        },
    }
}

/// The block a result event prints on stdout; `None` for progress events.
pub fn block(event: &Event) -> Option<String> {
    match event {
        Event::Plan(p) => Some(plan_table(p)),
        Event::Summary(s) => Some(summary(s)),
        Event::Comparison(c) => Some(format!("{}\n", comparison_line(c))),
        Event::Verdict(v) => Some(v.render()),
        Event::SloResult(s) => Some(slo_block(s)),
        Event::MatrixPlan(p) => Some(matrix_plan(p)),
        Event::MatrixSummary(s) => Some(crate::matrix::report::text(s)),
        Event::FanoutSummary(s) => Some(crate::hosts::report::text(s)),
        Event::OnHost { host, inner } => block(inner).map(|b| format!("host {host}:\n{b}")),
        _ => None,
    }
}

/// Bytes as MiB with one decimal (`12.3 MiB`).
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

fn human_s(s: f64) -> String {
    estimate::human(Duration::from_secs_f64(s.max(0.0)))
}

/// The dry-run table: every point with its command-line shape, file, status (runs, or
/// skipped and why) and estimate, then the total.
pub fn plan_table(p: &PlanView) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::ASCII_FULL_CONDENSED);
    t.set_header(vec![
        "#", "point", "input", "output", "C", "prompts", "file", "estimate", "note",
    ]);
    let (mut measured, mut guessed, mut runnable) = (0usize, 0usize, 0usize);
    for (i, pp) in p.points.iter().enumerate() {
        let pt = &pp.point;
        let (est, note) = match (&pt.skip, pp.estimate_s) {
            (Some(r), _) => ("-".to_string(), format!("skipped: {r}")),
            (None, est) => {
                runnable += 1;
                let src = pp.estimate_source.clone().unwrap_or_default();
                if src == "heuristic" {
                    guessed += 1;
                } else {
                    measured += 1;
                }
                (human_s(est.unwrap_or(0.0)), src)
            }
        };
        t.add_row(vec![
            (i + 1).to_string(),
            pt.id.clone(),
            pt.input_len.to_string(),
            pt.output_len.to_string(),
            pt.concurrency.to_string(),
            pt.num_prompts.to_string(),
            pp.file.clone(),
            est,
            note,
        ]);
    }
    let mut s = format!("{t}\n");
    s.push_str(&format!(
        "{} point(s), {runnable} to run, {} skipped; estimated {} ({measured} from earlier runs, {guessed} by the heuristic: {})\n",
        p.points.len(),
        p.points.len() - runnable,
        human_s(p.total_estimate_s),
        p.heuristic
    ));
    s.push_str(&format!("context length {}\n", p.context));
    s.push_str(&format!(
        "file names end in the point's start time (shown: {}); K = 1024 tokens\n",
        p.timestamp
    ));
    for n in &p.notes {
        if !n.starts_with("context length") {
            s.push_str(&format!("note: {n}\n"));
        }
    }
    s
}

fn status_line(s: &RunSummary) -> String {
    format!(
        "run {}: {}; {} ok, {} failed, {} skipped, {} pending{}",
        s.run_id,
        s.status,
        s.ok,
        s.failed,
        s.skipped,
        s.pending,
        if s.standin {
            " — CPU stand-in, not a GPU measurement"
        } else {
            ""
        }
    )
}

/// The end-of-run table, the status line and where the files are.
pub fn summary(s: &RunSummary) -> String {
    let mut out = crate::report::table(&s.rows.0);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&status_line(s));
    out.push('\n');
    if s.status == "imported" {
        out.push_str(&format!(
            "imported {}; report: {}\n",
            s.results_dir, s.run_dir
        ));
    } else {
        out.push_str(&format!(
            "results: {} (run state, logs and reports: {})\n",
            s.results_dir, s.run_dir
        ));
    }
    out
}

fn comparison_line(c: &ComparisonSummary) -> String {
    format!(
        "compared with run {}: {} (details: {})",
        c.baseline_run_id, c.headline, c.details
    )
}

/// An SLO search's walk and capacity: one line per probe, then the headline.
fn slo_block(s: &crate::slo::report::SloSearch) -> String {
    use crate::slo::probe::level_label;
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::ASCII_FULL_CONDENSED);
    let level = if s.by == "rate" { "rate" } else { "C" };
    t.set_header(vec![
        "#",
        level,
        "meets",
        "p99 TTFT ms",
        "p99 TPOT ms",
        "p99 E2EL ms",
        "goodput req/s",
        "why not",
    ]);
    let f = |v: Option<f64>| crate::report::fmt_num(v);
    for (i, p) in s.points.iter().enumerate() {
        t.add_row(vec![
            (i + 1).to_string(),
            level_label(p.level),
            if p.meets { "yes" } else { "no" }.to_string(),
            f(p.p99_ttft_ms),
            f(p.p99_tpot_ms),
            f(p.p99_e2el_ms),
            f(p.request_goodput),
            p.reason.clone().unwrap_or_default(),
        ]);
    }
    format!("{t}\n{}\n", s.headline())
}

/// A matrix's dry run: each combination's plan under its name and settings, then the total.
fn matrix_plan(p: &crate::matrix::plan::MatrixPlanView) -> String {
    let mut s = String::new();
    for c in &p.combinations {
        s.push_str(&format!(
            "combination {} ({}) -> {}; server start: {}\n",
            c.name,
            if c.settings.is_empty() {
                "the server section as it is".to_string()
            } else {
                c.settings.join("; ")
            },
            c.results_dir,
            c.start_estimate_s
                .map(human_s)
                .unwrap_or_else(|| "not estimated".into())
        ));
        s.push_str(&plan_table(&c.plan));
        s.push('\n');
    }
    s.push_str(&format!(
        "{} combination(s) x points = {} point(s); estimated {} in all\n",
        p.combinations.len(),
        p.points,
        human_s(p.total_estimate_s)
    ));
    for n in &p.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    s
}
