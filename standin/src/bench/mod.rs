//! `vllm bench serve` stand-in (to be implemented).

pub fn main(args: &[String]) -> i32 {
    let _ = args;
    eprintln!("vllm bench serve stand-in: not implemented yet");
    1
}
