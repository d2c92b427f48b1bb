//! vLLM's fatal start-up signatures (contract §4): the lines real vLLM 0.33 prints when the
//! engine cannot start, with a plausible traceback, so vbench's log diagnosis can be tested
//! without a GPU. The last line of each is the exception line orchestrators match on.

use super::knobs::{FailAtStart, GpuKind};
use super::log::{self, Proc};

const SITE: &str = "/usr/local/lib/python3.12/dist-packages";

fn frame(file: &str, line: u32, func: &str, code: &str) -> [String; 2] {
    [
        format!("  File \"{SITE}/{file}\", line {line}, in {func}"),
        format!("    {code}"),
    ]
}

/// The first lines of every traceback raised under `vllm serve` in the API process: the CLI
/// entry point down to `run_server`.
fn cli_traceback_head() -> Vec<String> {
    let mut tb = vec![
        "Traceback (most recent call last):".to_string(),
        "  File \"/usr/local/bin/vllm\", line 10, in <module>".into(),
        "    sys.exit(main())".into(),
    ];
    tb.extend(frame(
        "vllm/entrypoints/cli/main.py",
        95,
        "main",
        "args.dispatch_function(args)",
    ));
    tb.extend(frame(
        "vllm/entrypoints/cli/serve.py",
        148,
        "cmd",
        "uvloop.run(run_server(args))",
    ));
    tb
}

/// The API server's traceback when the engine core failed to start, ending in
/// `RuntimeError: Engine core initialization failed. …` (as in the real 0.25.1 log fixture).
fn api_engine_init_failed() {
    let mut tb = cli_traceback_head();
    tb.extend(frame(
        "vllm/entrypoints/openai/api_server.py",
        698,
        "run_server",
        "await run_server_worker(listen_address, sock, args, **uvicorn_kwargs)",
    ));
    tb.extend(frame(
        "vllm/v1/engine/async_llm.py",
        146,
        "__init__",
        "self.engine_core = EngineCoreClient.make_async_mp_client(",
    ));
    tb.extend(frame(
        "vllm/v1/engine/utils.py",
        1272,
        "wait_for_engine_startup",
        "raise RuntimeError(",
    ));
    tb.push("RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}".into());
    log::raw(Proc::Api, &tb);
}

/// An engine-core failure: `EngineCore failed to start.` + traceback (logger lines) ending in `exc`.
fn engine_core_failed(frames: &[(&str, u32, &str, &str)], exc: &str) {
    let mut all = vec![(
        "vllm/v1/engine/core.py",
        133,
        "__init__",
        "kv_cache_config = self._initialize_kv_caches(vllm_config)",
    )];
    all.extend_from_slice(frames);
    engine_core_failed_in(&all, exc);
}

/// An engine-core failure below `EngineCoreProc(…)` at `frames`.
fn engine_core_failed_in(frames: &[(&str, u32, &str, &str)], exc: &str) {
    let mut lines = vec![
        "EngineCore failed to start.".to_string(),
        "Traceback (most recent call last):".into(),
    ];
    lines.extend(frame(
        "vllm/v1/engine/core.py",
        1200,
        "run_engine_core",
        "engine_core = EngineCoreProc(*args, engine_index=dp_rank, **kwargs)",
    ));
    for (file, line, func, code) in frames {
        lines.extend(frame(file, *line, func, code));
    }
    lines.extend(exc.lines().map(str::to_string));
    log::error_block(Proc::Engine, "core.py:1231", &lines);
    api_engine_init_failed();
}

/// The Ray placement group of tp × pp GPUs could not be created within the wait: vLLM's
/// `_wait_until_pg_ready` (`vllm/v1/executor/ray_utils.py`, wording from vLLM's source; vLLM
/// prints its `PG_WAIT_TIMEOUT`, the stand-in the wait it was given).
pub fn placement_group(required: u32, specs: &str, waited: std::time::Duration) {
    let secs = waited.as_secs_f64();
    let secs = if secs.fract() == 0.0 {
        format!("{}", secs as u64)
    } else {
        format!("{secs}")
    };
    let exc = if required > 1 {
        format!(
            "ValueError: Cannot provide a placement group requiring {required}.0 GPUs (placement_group_specs={specs}) within {secs} seconds.\nTensor parallel size may exceed available GPUs in your cluster. Check resources with `ray status` and `ray list nodes`.\nIf running on K8s with limited GPUs, consider reducing --tensor-parallel-size to match available GPU resources."
        )
    } else {
        format!(
            "ValueError: Cannot provide a placement group of placement_group_specs={specs} within {secs} seconds. See `ray status` and `ray list nodes` to make sure the cluster has enough resources."
        )
    };
    engine_core_failed_in(
        &[
            (
                "vllm/v1/engine/core.py",
                104,
                "__init__",
                "self.model_executor = executor_class(vllm_config)",
            ),
            (
                "vllm/v1/executor/abstract.py",
                101,
                "__init__",
                "self._init_executor()",
            ),
            (
                "vllm/v1/executor/ray_executor.py",
                98,
                "_init_executor",
                "initialize_ray_cluster(self.parallel_config)",
            ),
            (
                "vllm/v1/executor/ray_utils.py",
                455,
                "initialize_ray_cluster",
                "_wait_until_pg_ready(current_placement_group)",
            ),
            (
                "vllm/v1/executor/ray_utils.py",
                321,
                "_wait_until_pg_ready",
                "raise ValueError(",
            ),
        ],
        &exc,
    );
}

/// A failure raised in the API process while building the model config (before any engine).
fn api_config_failed(frames: &[(&str, u32, &str, &str)], exc: &str) {
    api_config_failed_at("model_config = self.create_model_config()", frames, exc);
}

/// A failure raised in `create_engine_config` at the line `code` (before any engine starts).
fn api_config_failed_at(code: &str, frames: &[(&str, u32, &str, &str)], exc: &str) {
    let mut tb = cli_traceback_head();
    tb.extend(frame(
        "vllm/engine/arg_utils.py",
        1402,
        "create_engine_config",
        code,
    ));
    for (file, line, func, code) in frames {
        tb.extend(frame(file, *line, func, code));
    }
    tb.extend(exc.lines().map(str::to_string));
    log::raw(Proc::Api, &tb);
}

/// `User-specified max_model_len (X) is greater than the derived max_model_len …`.
pub fn max_model_len(requested: u64, derived: u64) {
    api_config_failed(
        &[(
            "pydantic/_internal/_dataclasses.py",
            121,
            "__init__",
            "s.__pydantic_validator__.validate_python(ArgsKwargs(args, kwargs), self_instance=s)",
        )],
        &format!(
            "pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig\n  Value error, User-specified max_model_len ({requested}) is greater than the derived max_model_len (max_position_embeddings={derived} or model_max_length=None in model's config.json). To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used with extreme caution. If the model uses relative position encoding (RoPE), positions exceeding derived_max_model_len lead to nan. If the model uses absolute position encoding, positions exceeding derived_max_model_len will cause a CUDA array out-of-bounds error. [type=value_error, input_value=ArgsKwargs((), {{'model': ...}}), input_type=ArgsKwargs]"
        ),
    );
}

/// More GPUs asked for (tp × pp) than this process sees: vLLM's `ParallelConfig` check
/// (`vllm/config/parallel.py`, wording from vLLM's source; the pydantic wrapping around it is
/// the stand-in's assumption).
pub fn world_size(world: u32, available: usize) {
    api_config_failed_at(
        "parallel_config = ParallelConfig(",
        &[
            (
                "pydantic/_internal/_dataclasses.py",
                121,
                "__init__",
                "s.__pydantic_validator__.validate_python(ArgsKwargs(args, kwargs), self_instance=s)",
            ),
            (
                "vllm/config/parallel.py",
                702,
                "__post_init__",
                "raise ValueError(",
            ),
        ],
        &format!(
            "pydantic_core._pydantic_core.ValidationError: 1 validation error for ParallelConfig\n  Value error, World size ({world}) is larger than the number of available GPUs ({available}) in this node. If this is intentional and you are using:\n- ray, set '--distributed-executor-backend ray'.\n- multiprocessing, set '--nnodes' appropriately. [type=value_error, input_value=ArgsKwargs((), {{'tensor_parallel_size': ...}}), input_type=ArgsKwargs]"
        ),
    );
}

/// `OSError: [Errno 98] Address already in use` (raised at bind, before model load).
pub fn port_in_use(host: &str, port: u16) {
    let mut tb = vec![
        "Traceback (most recent call last):".to_string(),
        "  File \"/usr/local/bin/vllm\", line 10, in <module>".into(),
        "    sys.exit(main())".into(),
    ];
    tb.extend(frame(
        "vllm/entrypoints/cli/serve.py",
        148,
        "cmd",
        "uvloop.run(run_server(args))",
    ));
    tb.extend(frame(
        "vllm/entrypoints/openai/api_server.py",
        690,
        "run_server",
        "listen_address, sock = setup_server(args)",
    ));
    tb.extend(frame(
        "vllm/entrypoints/openai/api_server.py",
        660,
        "setup_server",
        "sock = create_server_socket(sock_addr)",
    ));
    tb.extend(frame(
        "vllm/entrypoints/openai/api_server.py",
        621,
        "create_server_socket",
        "sock.bind(addr)",
    ));
    tb.push("OSError: [Errno 98] Address already in use".into());
    let _ = (host, port);
    log::raw(Proc::Api, &tb);
}

/// Print the signature of an injected start-up failure.
pub fn inject(cause: FailAtStart, gpu: GpuKind, model: &str, derived: u64, host: &str, port: u16) {
    match cause {
        FailAtStart::KvCache => engine_core_failed(
            &[
                (
                    "vllm/v1/core/kv_cache_utils.py",
                    2101,
                    "get_kv_cache_configs",
                    "_check_enough_kv_cache_memory(",
                ),
                (
                    "vllm/v1/core/kv_cache_utils.py",
                    740,
                    "_check_enough_kv_cache_memory",
                    "raise ValueError(",
                ),
            ],
            "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine. See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details.",
        ),
        FailAtStart::Oom => {
            let (dev, conf) = match gpu {
                GpuKind::Nvidia => ("CUDA", "PYTORCH_CUDA_ALLOC_CONF"),
                GpuKind::Amd => ("HIP", "PYTORCH_HIP_ALLOC_CONF"),
            };
            engine_core_failed(
                &[
                    (
                        "vllm/v1/worker/gpu_model_runner.py",
                        3102,
                        "load_model",
                        "self.model = model_loader.load_model(",
                    ),
                    (
                        "torch/utils/_device.py",
                        104,
                        "__torch_function__",
                        "return func(*args, **kwargs)",
                    ),
                ],
                &format!(
                    "torch.OutOfMemoryError: {dev} out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB of which 1.06 GiB is free. Including non-PyTorch memory, this process has 78.12 GiB memory in use. Of the allocated memory 77.01 GiB is allocated by PyTorch, and 512.00 MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting {conf}=expandable_segments:True to avoid fragmentation.  See documentation for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
                ),
            )
        }
        FailAtStart::MaxModelLen => max_model_len(derived.saturating_mul(2), derived),
        FailAtStart::ModelNotFound => api_config_failed(
            &[(
                "vllm/transformers_utils/config.py",
                618,
                "get_config",
                "raise ValueError(",
            )],
            &format!(
                "ValueError: Invalid repository ID or local directory specified: '{model}'.\nPlease verify the following requirements:\n1. Provide a valid Hugging Face repository ID.\n2. Specify a local directory that contains a recognized configuration file.\n   - For Hugging Face models: ensure the presence of a 'config.json'.\n   - For Mistral models: ensure the presence of a 'params.json'."
            ),
        ),
        FailAtStart::NoGpu => api_config_failed(
            &[(
                "vllm/config/device.py",
                58,
                "__post_init__",
                "raise RuntimeError(",
            )],
            "RuntimeError: Failed to infer device type, please set the environment variable `VLLM_LOGGING_LEVEL=DEBUG` to turn on verbose logging to help debug the issue.",
        ),
        FailAtStart::PortInUse => port_in_use(host, port),
    }
}

/// Engine-dead lines when the stand-in's engine "dies" while serving (exit knobs).
pub fn engine_dead(reason: &str) {
    log::error_block(
        Proc::Engine,
        "core.py:884",
        &[
            "EngineCore encountered a fatal error.".into(),
            format!("(stand-in fault injection: {reason})"),
        ],
    );
    log::error_block(
        Proc::Api,
        "async_llm.py:525",
        &[
            "AsyncLLM output_handler failed.".into(),
            "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.".into(),
        ],
    );
}
