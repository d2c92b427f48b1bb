//! Whether a file is a static ELF executable: a FROM-scratch image has no dynamic loader, so a
//! dynamic binary would fail there with a confusing "no such file". Shared with `build.rs`
//! (included by path), which checks what it embeds with the same rule.

/// `Some(reason)` when `data` is not a static 64-bit little-endian ELF executable.
pub fn not_static(data: &[u8]) -> Option<String> {
    if data.len() < 64 || &data[..4] != b"\x7fELF" {
        return Some("not an ELF executable".into());
    }
    if data[4] != 2 || data[5] != 1 {
        return Some("not a 64-bit little-endian ELF".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(data[0x20..0x28].try_into().unwrap_or([0; 8])) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let Some(p_type) = data.get(o..o + 4) else {
            return Some("truncated program headers".into());
        };
        // PT_INTERP = 3: the binary asks for a dynamic loader.
        if u32::from_le_bytes([p_type[0], p_type[1], p_type[2], p_type[3]]) == 3 {
            return Some("dynamically linked (it has an INTERP header)".into());
        }
    }
    None
}
