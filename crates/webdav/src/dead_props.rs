//! Limits on dead properties (PROPPATCH), so that properties cannot grow the metadata
//! database without bound: one property (namespace, name, prefix and value together) is
//! at most [`MAX_PROP_BYTES`], and a resource holds at most [`MAX_PROPS_PER_RESOURCE`]
//! (so at most 400 KiB of properties per file or folder; a PROPPATCH body is at most
//! 64 KiB anyway). A PROPPATCH breaking a limit changes nothing (it is atomic, RFC 4918
//! §9.2): the properties over a limit answer 507 Insufficient Storage in the multistatus
//! ("the server did not have sufficient space to record the property", §9.2.1), the
//! others 424 Failed Dependency.

use http::StatusCode;
use nas_engine::{DeadProp, PropOp};
use std::collections::HashSet;

/// Largest dead property: namespace, name, prefix and value, in bytes.
pub const MAX_PROP_BYTES: usize = 4 * 1024;

/// Most dead properties one file or folder holds.
pub const MAX_PROPS_PER_RESOURCE: usize = 100;

fn size_of(p: &DeadProp) -> usize {
    p.ns.len() + p.name.len() + p.prefix.len() + p.value.len()
}

/// The refusals of a patch against a resource's current properties: `None` when every op
/// may be applied, else the status of each op (507 for those over a limit, 424 for the
/// rest).
pub fn refusals(current: &[DeadProp], ops: &[PropOp]) -> Option<Vec<StatusCode>> {
    let mut keys: HashSet<(&str, &str)> = current
        .iter()
        .map(|p| (p.ns.as_str(), p.name.as_str()))
        .collect();
    let mut over: Vec<bool> = ops
        .iter()
        .map(|op| matches!(op, PropOp::Set(p) if size_of(p) > MAX_PROP_BYTES))
        .collect();
    let mut added: Vec<usize> = Vec::new(); // ops that add a new key, in order
    for (i, op) in ops.iter().enumerate() {
        match op {
            PropOp::Set(p) => {
                if keys.insert((p.ns.as_str(), p.name.as_str())) {
                    added.push(i);
                }
            }
            PropOp::Remove(ns, name) => {
                keys.remove(&(ns.as_str(), name.as_str()));
            }
        }
    }
    if keys.len() > MAX_PROPS_PER_RESOURCE {
        for i in added {
            over[i] = true;
        }
    }
    over.iter().any(|&o| o).then(|| {
        over.iter()
            .map(|&o| {
                if o {
                    StatusCode::INSUFFICIENT_STORAGE
                } else {
                    StatusCode::FAILED_DEPENDENCY
                }
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(name: &str, len: usize) -> DeadProp {
        DeadProp {
            ns: "urn:x".into(),
            name: name.into(),
            prefix: "x".into(),
            value: vec![b'v'; len],
        }
    }

    #[test]
    fn values_over_the_limit_are_refused_and_fail_the_rest() {
        let ops = [
            PropOp::Set(prop("small", 10)),
            PropOp::Set(prop("big", MAX_PROP_BYTES)),
        ];
        assert_eq!(
            refusals(&[], &ops),
            Some(vec![
                StatusCode::FAILED_DEPENDENCY,
                StatusCode::INSUFFICIENT_STORAGE
            ])
        );
        assert_eq!(refusals(&[], &ops[..1]), None);
        assert_eq!(refusals(&[], &[PropOp::Set(prop("ok", 4000))]), None);
    }

    #[test]
    fn a_resource_holds_at_most_the_limit() {
        let current: Vec<DeadProp> = (0..MAX_PROPS_PER_RESOURCE - 1)
            .map(|i| prop(&format!("p{i}"), 1))
            .collect();
        // one more fits; replacing an existing one always fits
        assert_eq!(refusals(&current, &[PropOp::Set(prop("new", 1))]), None);
        assert_eq!(refusals(&current, &[PropOp::Set(prop("p0", 9))]), None);
        // two more do not: both additions are refused
        let two = [
            PropOp::Set(prop("p0", 2)),
            PropOp::Set(prop("a", 1)),
            PropOp::Set(prop("b", 1)),
        ];
        assert_eq!(
            refusals(&current, &two),
            Some(vec![
                StatusCode::FAILED_DEPENDENCY,
                StatusCode::INSUFFICIENT_STORAGE,
                StatusCode::INSUFFICIENT_STORAGE
            ])
        );
        // unless the same patch removes as many
        let swap = [
            PropOp::Remove("urn:x".into(), "p1".into()),
            PropOp::Set(prop("a", 1)),
            PropOp::Set(prop("b", 1)),
        ];
        assert_eq!(refusals(&current, &swap), None);
    }
}
