//! `vllm serve` stand-in (to be implemented).

/// The version the stand-in reports: vLLM 0.33.0's interface, marked as the stand-in.
pub const VERSION: &str = "0.33.0+standin";

pub fn main(args: &[String]) -> i32 {
    let _ = args;
    eprintln!("vllm serve stand-in: not implemented yet");
    1
}
