//! Task-level `cpu` and `memory`: the unit forms ECS accepts, parsed once into plain numbers.
//!
//! ECS takes task size as a string in CPU units / MiB (`"256"`, `"512"`), or with units
//! (`"0.25 vCPU"`, `"1 GB"`), and people also write bare YAML numbers. All of them mean the same
//! thing, so they parse into one number here and render back as the canonical numeric string.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// CPU units of one vCPU (`1 vCPU` = `1024`).
const UNITS_PER_VCPU: f64 = 1024.0;
/// MiB in one GB as ECS counts it (`1 GB` = `1024`).
const MIB_PER_GB: f64 = 1024.0;

/// Task-level CPU in CPU units (1024 = 1 vCPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskCpu(pub u32);

/// Task-level memory in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskMemory(pub u32);

impl TaskCpu {
    /// Parses `"256"`, `"0.25 vCPU"`, `"1 vcpu"`, `"1vCPU"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_with_unit(text, &["vcpu"], UNITS_PER_VCPU)
            .map(TaskCpu)
            .map_err(|why| {
                format!(
                    "invalid task cpu `{text}`: {why}; write CPU units (`256`, `1024`) or vCPUs (`0.25 vCPU`, `1 vCPU`)"
                )
            })
    }
}

impl TaskMemory {
    /// Parses `"512"`, `"1 GB"`, `"2 gb"`, `"0.5GB"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_with_unit(text, &["gb", "gib"], MIB_PER_GB)
            .map(TaskMemory)
            .map_err(|why| {
                format!(
                    "invalid task memory `{text}`: {why}; write MiB (`512`, `2048`) or GB (`0.5 GB`, `2 GB`)"
                )
            })
    }
}

/// Parses a number with an optional case-insensitive unit suffix that multiplies it.
fn parse_with_unit(text: &str, units: &[&str], per_unit: f64) -> Result<u32, String> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let (number, multiplier) = match units.iter().find(|unit| lower.ends_with(*unit)) {
        Some(unit) => (trimmed[..trimmed.len() - unit.len()].trim(), per_unit),
        None => (trimmed, 1.0),
    };
    let value: f64 = number.parse().map_err(|_| "not a number".to_string())?;
    let scaled = value * multiplier;
    if !scaled.is_finite() || scaled <= 0.0 || scaled > f64::from(u32::MAX) {
        return Err("must be a positive number".to_string());
    }
    if scaled.fract() != 0.0 {
        return Err("does not come to a whole number of units".to_string());
    }
    // Checked above: finite, positive, whole and within u32.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(scaled as u32)
}

impl fmt::Display for TaskCpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for TaskMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for TaskCpu {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for TaskMemory {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Accepts a string or a whole number and hands its text to a parser.
struct SizeVisitor<T> {
    parse: fn(&str) -> Result<T, String>,
    expecting: &'static str,
}

impl<T> Visitor<'_> for SizeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.parse)(&v.to_string()).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.parse)(&v.to_string()).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        (self.parse)(&v.to_string()).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for TaskCpu {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SizeVisitor {
            parse: TaskCpu::parse,
            expecting: "task cpu as CPU units (`256`) or vCPUs (`0.25 vCPU`)",
        })
    }
}

impl<'de> Deserialize<'de> for TaskMemory {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SizeVisitor {
            parse: TaskMemory::parse,
            expecting: "task memory in MiB (`512`) or GB (`1 GB`)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_accepts_units_and_vcpu_forms() {
        assert_eq!(TaskCpu::parse("256"), Ok(TaskCpu(256)));
        assert_eq!(TaskCpu::parse("0.25 vCPU"), Ok(TaskCpu(256)));
        assert_eq!(TaskCpu::parse("1 vcpu"), Ok(TaskCpu(1024)));
        assert_eq!(TaskCpu::parse("2vCPU"), Ok(TaskCpu(2048)));
    }

    #[test]
    fn memory_accepts_mib_and_gb_forms() {
        assert_eq!(TaskMemory::parse("512"), Ok(TaskMemory(512)));
        assert_eq!(TaskMemory::parse("1 GB"), Ok(TaskMemory(1024)));
        assert_eq!(TaskMemory::parse("2 gb"), Ok(TaskMemory(2048)));
        assert_eq!(TaskMemory::parse("0.5GB"), Ok(TaskMemory(512)));
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        let err = TaskCpu::parse("quarter").unwrap_err();
        assert!(err.contains("`0.25 vCPU`"), "{err}");
        assert!(TaskMemory::parse("-1").is_err());
        assert!(
            TaskCpu::parse("0.1 vCPU").is_err(),
            "102.4 units is not whole"
        );
    }

    #[test]
    fn serializes_as_numeric_string() {
        assert_eq!(serde_json::to_string(&TaskCpu(256)).unwrap(), "\"256\"");
        assert_eq!(
            serde_json::to_string(&TaskMemory(2048)).unwrap(),
            "\"2048\""
        );
    }

    #[test]
    fn deserializes_from_number_or_string() {
        let cpu: TaskCpu = serde_json::from_str("512").unwrap();
        assert_eq!(cpu, TaskCpu(512));
        let mem: TaskMemory = serde_json::from_str("\"4 GB\"").unwrap();
        assert_eq!(mem, TaskMemory(4096));
    }
}
