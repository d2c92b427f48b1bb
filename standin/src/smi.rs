//! `nvidia-smi` and `rocm-smi` stand-ins (to be implemented).

pub fn nvidia(args: &[String]) -> i32 {
    let _ = args;
    1
}

pub fn rocm(args: &[String]) -> i32 {
    let _ = args;
    1
}
