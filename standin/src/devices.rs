//! The stand-in "host"'s GPUs and which of them a container and a process see, shared by
//! `vllm serve` (which GPUs it runs on) and the monitors (which GPUs they list).
//!
//! Two levels, as on a real host:
//! - **Container**: the container runtime exposes a subset of the host's GPUs
//!   (`NVIDIA_VISIBLE_DEVICES` for NVIDIA's runtime, what `docker --gpus device=0,2` sets;
//!   `AMD_VISIBLE_DEVICES` for AMD's). Inside, tools renumber them 0..k−1 but the hardware
//!   identity (UUID, PCI bus id) stays the physical GPU's. The stand-in has no runtime, so it
//!   reads these variables itself; unset means every GPU, as a container started with
//!   `--gpus all`.
//! - **Process**: `CUDA_VISIBLE_DEVICES` (NVIDIA), `ROCR_VISIBLE_DEVICES` then
//!   `HIP_VISIBLE_DEVICES` (AMD; HIP also honours `CUDA_VISIBLE_DEVICES` when
//!   `HIP_VISIBLE_DEVICES` is unset) narrow what one CUDA/HIP process uses, with indices into
//!   the level below. Real `nvidia-smi` and `rocm-smi` ignore these (they list every GPU of
//!   the container), so only `vllm serve` applies them.

use crate::serve::knobs::GpuKind;

/// The most GPUs `VLLM_STANDIN_GPUS` may give the host.
pub const MAX_GPUS: u32 = 64;

/// The UUID of physical GPU `p` (stable whatever a container calls it).
pub fn uuid(p: u32) -> String {
    format!(
        "GPU-5a4d0000-0000-4000-8000-{:012x}",
        0x5747_0000u64 + u64::from(p)
    )
}

/// The PCI bus id of physical GPU `p`, in `nvidia-smi`'s form.
pub fn bus_id(p: u32) -> String {
    format!("00000000:{:02X}:00.0", 0x18 + p)
}

/// `VLLM_STANDIN_GPUS`, strictly: a count in 1..=64, or unset.
pub fn host_gpus_knob() -> Result<Option<u32>, String> {
    let Some(raw) = std::env::var("VLLM_STANDIN_GPUS")
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_GPUS).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "VLLM_STANDIN_GPUS={raw:?}: expected a GPU count from 1 to {MAX_GPUS}"
        )),
    }
}

/// The container-level variable of a vendor.
pub fn container_var(vendor: GpuKind) -> &'static str {
    match vendor {
        GpuKind::Nvidia => "NVIDIA_VISIBLE_DEVICES",
        GpuKind::Amd => "AMD_VISIBLE_DEVICES",
    }
}

/// The physical GPUs the container sees, in bus order: `all` (or unset / empty), `none` (or
/// `void`), or a comma list of indices (and, for NVIDIA, UUIDs). A GPU the host does not have
/// is an error, as the runtime refuses to start such a container.
pub fn container_visible(vendor: GpuKind, host: u32) -> Result<Vec<u32>, String> {
    let name = container_var(vendor);
    let raw = std::env::var(name).unwrap_or_default();
    let value = raw.trim();
    match value {
        "" | "all" => return Ok((0..host).collect()),
        "none" | "void" => return Ok(Vec::new()),
        _ => {}
    }
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim) {
        let p = match item.parse::<u32>() {
            Ok(i) => Some(i),
            Err(_) => (0..host).find(|&p| uuid(p) == item),
        };
        match p {
            Some(p) if p < host => out.push(p),
            _ => {
                return Err(format!(
                    "{name}={raw:?}: unknown device {item:?} (the stand-in host has {host} GPU{}, 0..{}; VLLM_STANDIN_GPUS sets the count)",
                    if host == 1 { "" } else { "s" },
                    host - 1
                ));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Narrow `below` by one process-level variable with CUDA's rules: unset → unchanged; empty
/// → nothing; a comma list of indices into `below`, in the given order, cut at the first
/// entry that is not one (so `-1` hides everything).
fn narrow(below: &[u32], value: Option<String>) -> Vec<u32> {
    let Some(value) = value else {
        return below.to_vec();
    };
    let mut out: Vec<u32> = Vec::new();
    for item in value.split(',').map(str::trim) {
        match item.parse::<usize>().ok().and_then(|i| below.get(i)) {
            Some(p) if !out.contains(p) => out.push(*p),
            _ => break,
        }
    }
    out
}

/// The physical GPUs a CUDA/HIP process in the container uses, in its device order.
pub fn process_visible(vendor: GpuKind, container: &[u32]) -> Vec<u32> {
    let var = |n: &str| std::env::var(n).ok();
    match vendor {
        GpuKind::Nvidia => narrow(container, var("CUDA_VISIBLE_DEVICES")),
        GpuKind::Amd => {
            let rocr = narrow(container, var("ROCR_VISIBLE_DEVICES"));
            narrow(
                &rocr,
                var("HIP_VISIBLE_DEVICES").or_else(|| var("CUDA_VISIBLE_DEVICES")),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_lists_follow_cuda_rules() {
        let c = [1, 3, 5, 7];
        assert_eq!(narrow(&c, None), c);
        assert_eq!(narrow(&c, Some("2,0".into())), [5, 1]);
        assert_eq!(narrow(&c, Some(String::new())), Vec::<u32>::new());
        assert_eq!(
            narrow(&c, Some("1,9,0".into())),
            [3],
            "cut at the bad entry"
        );
        assert_eq!(narrow(&c, Some("-1".into())), Vec::<u32>::new());
    }

    #[test]
    fn identities_are_the_physical_gpus() {
        assert_eq!(bus_id(2), "00000000:1A:00.0");
        assert_ne!(uuid(0), uuid(1));
    }
}
