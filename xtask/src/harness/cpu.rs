//! The proxy's CPU time, read from `/proc/PID/stat`: user + system time of the whole
//! process (every thread, including those that exited), in clock ticks. Reading it before
//! and after a run gives what the proxy spent on that run, whatever the load side managed:
//! the fair comparison when the load generator saturates first.

use std::process::Command;

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux almost everywhere): the unit of
/// `utime` and `stime`, and so the resolution of every CPU figure (10 ms at 100).
pub fn ticks_per_second() -> Result<u64, String> {
    let output = Command::new("getconf").arg("CLK_TCK").output().map_err(|e| format!("cannot run getconf: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    match text.trim().parse::<u64>() {
        Ok(ticks) if ticks > 0 => Ok(ticks),
        _ => Err(format!("`getconf CLK_TCK` printed {:?}, not a tick rate", text.trim())),
    }
}

/// The fields of `/proc/PID/stat` after the command name. The name is in parentheses and
/// may itself hold spaces and parentheses, so the split is at the last `)`.
fn fields_after_name(pid: u32) -> Result<Vec<String>, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let (_, rest) = stat.rsplit_once(')').ok_or_else(|| format!("{path} has no `)` after the command name"))?;
    Ok(rest.split_whitespace().map(str::to_owned).collect())
}

/// `utime + stime` of `pid` in clock ticks (fields 14 and 15 of `proc(5)`; 11 and 12 after
/// the name, which is field 2).
pub fn ticks(pid: u32) -> Result<u64, String> {
    let fields = fields_after_name(pid)?;
    let field = |index: usize, what: &str| -> Result<u64, String> {
        fields
            .get(index)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("/proc/{pid}/stat: no numeric {what} field"))
    };
    Ok(field(11, "utime")? + field(12, "stime")?)
}

/// The processes whose parent is `pid` (nginx's workers), found by scanning `/proc`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&candidate| {
            // Field 4, the parent PID, is index 1 after the name.
            fields_after_name(candidate).ok().and_then(|f| f.get(1).and_then(|p| p.parse::<u32>().ok())) == Some(pid)
        })
        .collect()
}

/// The command name of `pid` (`/proc/PID/comm`), `None` once it has exited.
pub fn name(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim().to_owned())
}

/// `Pss:` of `/proc/PID/smaps_rollup`, in KiB.
pub fn pss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
        .ok_or_else(|| format!("{path}: no `Pss: N kB` line"))
}
