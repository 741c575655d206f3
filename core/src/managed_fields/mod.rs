//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! Every write through the API server records which *field manager* set which fields, in Kubernetes'
//! `FieldsV1` format. [`apply`] merges an applied configuration into the live object the way
//! `kubectl apply --server-side` expects: fields the manager applied before and omits now are removed
//! (unless another manager owns them too), and changing a field another manager owns is a [`Conflicts`]
//! error unless forced. [`record_update`] records an ordinary create, update or patch: its manager
//! takes the fields it changed from everyone else, without conflicts.
//!
//! Lists of objects merge by the same keys as the [strategic merge patch](crate::client::strategic_merge)
//! (containers by `name`, ports by `containerPort`...). Simplifications: ownership is tracked for the main
//! resource only (not `status`), values are compared as JSON (`"0.5"` and `"500m"` differ), and a field
//! is in conflict when the applied value differs from the live one.
//!
//! ```
//! use serde_json::json;
//! use skiff_core::managed_fields::{apply, ApplyOptions};
//! use skiff_core::meta::Time;
//!
//! let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}});
//! let opts = ApplyOptions { manager: "kubectl", api_version: "v1", time: Time::now(), force: false };
//! let created = apply(None, &config, &opts).unwrap();
//! assert_eq!(created["metadata"]["managedFields"][0]["fieldsV1"], json!({"f:metadata": {"f:labels": {"f:a": {}}}}));
//!
//! // The same manager drops the label: it is removed.
//! let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
//! let updated = apply(Some(&created), &config, &opts).unwrap();
//! assert_eq!(updated["metadata"].get("labels"), Some(&json!({})));
//! assert_eq!(updated["data"]["k"], "v");
//! ```

mod field_set;

use serde_json::{json, Value};
use thiserror::Error;

pub use field_set::{FieldPath, FieldSet, PathElement};

use crate::client::strategic_merge;
use crate::meta::{ManagedFieldsEntry, Status, StatusCause, StatusDetails, Time};

/// `operation` of an entry written by server-side apply.
pub const APPLY: &str = "Apply";
/// `operation` of an entry written by create, update or patch.
pub const UPDATE: &str = "Update";

/// A `fieldsV1` value that is not a valid field set.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid fieldsV1: {0}")]
pub struct FieldsV1Error(pub String);

/// One field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The owning manager.
    pub manager: String,
    /// Its operation (`Apply` or `Update`).
    pub operation: String,
    /// The API version it wrote with.
    pub api_version: String,
    /// The contested field.
    pub path: FieldPath,
}

impl Conflict {
    /// The manager as Kubernetes names it in messages: `"kubectl"`, or `"kubectl-label" using v1` for updates.
    pub fn manager_display(&self) -> String {
        if self.operation == UPDATE {
            format!("{:?} using {}", self.manager, self.api_version)
        } else {
            format!("{:?}", self.manager)
        }
    }
}

/// Server-side apply failed: other managers own fields the configuration changes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change (answer 409; `force` takes them).
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The applied configuration is not an object.
    #[error("the applied configuration must be an object")]
    NotAnObject,
}

/// `Apply failed with 1 conflict: conflict with "kubectl-label" using v1: .metadata.labels.app`, as Kubernetes.
fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [c] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager_display(),
            c.path
        );
    }
    let mut by_manager: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for c in conflicts {
        by_manager
            .entry(c.manager_display())
            .or_default()
            .push(c.path.to_string());
    }
    let mut lines = Vec::new();
    for (manager, paths) in by_manager {
        lines.push(format!("conflicts with {manager}:"));
        lines.extend(paths.into_iter().map(|p| format!("- {p}")));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

impl ApplyError {
    /// The `metav1.Status` Kubernetes answers: 409 `Conflict` with a `FieldManagerConflict` cause per field.
    pub fn to_status(&self) -> Status {
        match self {
            ApplyError::Conflicts(conflicts) => Status::failure(409, "Conflict", self.to_string())
                .with_details(StatusDetails {
                    causes: conflicts
                        .iter()
                        .map(|c| StatusCause {
                            reason: Some("FieldManagerConflict".into()),
                            message: Some(format!("conflict with {}", c.manager_display())),
                            field: Some(c.path.to_string()),
                        })
                        .collect(),
                    ..Default::default()
                }),
            ApplyError::NotAnObject => Status::failure(400, "BadRequest", self.to_string()),
        }
    }
}

/// Who applies, and how.
#[derive(Debug, Clone)]
pub struct ApplyOptions<'a> {
    /// The field manager (`fieldManager`; kubectl sends `kubectl`).
    pub manager: &'a str,
    /// The API version of the request (`v1`, `apps/v1`).
    pub api_version: &'a str,
    /// When; written into the manager's entry.
    pub time: Time,
    /// Take fields other managers own instead of failing (`force=true`).
    pub force: bool,
}

/// A manager's entry with its parsed field set.
struct Owned {
    entry: ManagedFieldsEntry,
    set: FieldSet,
}

fn is(entry: &ManagedFieldsEntry, manager: &str, operation: &str) -> bool {
    entry.manager.as_deref() == Some(manager)
        && entry.operation.as_deref() == Some(operation)
        && entry.subresource.is_none()
}

/// The entries of `object`'s `metadata.managedFields`; entries that do not parse are dropped.
fn read(object: Option<&Value>) -> Vec<Owned> {
    let Some(entries) = object.and_then(|o| o.pointer("/metadata/managedFields")) else {
        return Vec::new();
    };
    let entries: Vec<ManagedFieldsEntry> =
        serde_json::from_value(entries.clone()).unwrap_or_default();
    entries
        .into_iter()
        .filter_map(|entry| {
            let set = FieldSet::from_fields_v1(entry.fields_v1.as_ref()?).ok()?;
            Some(Owned { entry, set })
        })
        .collect()
}

/// Writes `owned` (without empty entries) into `object`'s `metadata.managedFields`.
fn write(object: &mut Value, owned: Vec<Owned>) {
    let entries: Vec<Value> = owned
        .into_iter()
        .filter(|o| !o.set.is_empty())
        .map(|mut o| {
            o.entry.fields_type = Some("FieldsV1".into());
            o.entry.fields_v1 = Some(o.set.to_fields_v1());
            serde_json::to_value(&o.entry).unwrap_or(Value::Null)
        })
        .collect();
    if let Some(meta) = object
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    {
        if entries.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

fn entry(manager: &str, operation: &str, api_version: &str, time: &Time) -> ManagedFieldsEntry {
    ManagedFieldsEntry {
        manager: Some(manager.into()),
        operation: Some(operation.into()),
        api_version: Some(api_version.into()),
        time: Some(*time),
        fields_type: Some("FieldsV1".into()),
        fields_v1: None,
        subresource: None,
    }
}

/// Whether the field at `path` has the same value in `a` and `b` (list items: whether both have it).
fn same(path: &FieldPath, a: &Value, b: Option<&Value>) -> bool {
    let Some(b) = b else {
        return false;
    };
    match (path.get(a), path.get(b)) {
        (Some(x), Some(y)) => path.is_item() || x == y,
        (None, None) => true,
        _ => false,
    }
}

/// Server-side apply of `config` onto `live` (`None`: the object does not exist yet).
///
/// Returns the new object with its `metadata.managedFields`; the caller defaults, validates and stores it.
/// `status` in `config` is ignored, as on Kubernetes' main resource.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    opts: &ApplyOptions<'_>,
) -> Result<Value, ApplyError> {
    let mut config = config.clone();
    let cfg = config.as_object_mut().ok_or(ApplyError::NotAnObject)?;
    cfg.remove("status");
    if let Some(meta) = cfg.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    let applied = FieldSet::of(&config);
    let mut owned = read(live);
    let mine = owned.iter().position(|o| is(&o.entry, opts.manager, APPLY));
    let previous = mine.map(|i| owned.remove(i).set).unwrap_or_default();

    let mut merged = match live {
        None => config.clone(),
        Some(live) => {
            // Conflicts: fields others own that this configuration would change.
            let mut conflicts = Vec::new();
            for other in &owned {
                for path in applied.0.intersection(&other.set.0) {
                    if !same(path, &config, Some(live)) {
                        conflicts.push(Conflict {
                            manager: other.entry.manager.clone().unwrap_or_default(),
                            operation: other.entry.operation.clone().unwrap_or_default(),
                            api_version: other.entry.api_version.clone().unwrap_or_default(),
                            path: path.clone(),
                        });
                    }
                }
            }
            if !conflicts.is_empty() {
                if !opts.force {
                    return Err(ApplyError::Conflicts(conflicts));
                }
                for other in &mut owned {
                    for c in &conflicts {
                        other.set.0.remove(&c.path);
                    }
                }
            }
            let mut merged = live.clone();
            strategic_merge(&mut merged, &config);
            // Fields this manager applied before and omits now go, unless someone else owns them.
            // Outermost first: removing a list item removes what is inside it.
            for path in previous.0.difference(&applied.0) {
                if !owned.iter().any(|o| o.set.touches(path))
                    && !applied.touches(path)
                    && !path.is_merge_key()
                {
                    path.remove(&mut merged);
                }
            }
            merged
        }
    };
    let mine_now = Owned {
        entry: entry(opts.manager, APPLY, opts.api_version, &opts.time),
        set: applied,
    };
    owned.insert(mine.unwrap_or(owned.len()).min(owned.len()), mine_now);
    write(&mut merged, owned);
    Ok(merged)
}

/// Records an ordinary write (create when `old` is `None`, update or patch) by `manager` in `new`'s
/// `metadata.managedFields`: the manager's `Update` entry gains every field it added or changed, and every
/// other entry loses those and the fields the write removed. When `new` carries no managed fields, `old`'s
/// are carried over.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    time: &Time,
) {
    let given = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let mut owned = if given { read(Some(new)) } else { read(old) };
    let now = FieldSet::of(new);
    let changed: FieldSet = FieldSet(
        now.0
            .iter()
            .filter(|p| !same(p, new, old))
            .cloned()
            .collect(),
    );
    let removed: FieldSet = match old {
        Some(old) => FieldSet(FieldSet::of(old).0.difference(&now.0).cloned().collect()),
        None => FieldSet::default(),
    };
    if changed.is_empty() && removed.is_empty() && !owned.is_empty() {
        write(new, owned);
        return;
    }
    for o in &mut owned {
        o.set
            .0
            .retain(|p| !changed.0.contains(p) && !removed.0.contains(p));
    }
    match owned.iter_mut().find(|o| is(&o.entry, manager, UPDATE)) {
        Some(o) => {
            o.set.0.extend(changed.0);
            o.entry.time = Some(*time);
            o.entry.api_version = Some(api_version.into());
        }
        None => owned.push(Owned {
            entry: entry(manager, UPDATE, api_version, time),
            set: changed,
        }),
    }
    write(new, owned);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn opts(manager: &str, force: bool) -> ApplyOptions<'_> {
        ApplyOptions {
            manager,
            api_version: "v1",
            time: Time::now(),
            force,
        }
    }

    fn managers(obj: &Value) -> Vec<(String, String)> {
        obj["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["manager"].as_str().unwrap().to_string(),
                    e["operation"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn pod(labels: Value, image: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "x", "labels": labels},
               "spec": {"containers": [{"name": "main", "image": image}]}})
    }

    #[test]
    fn apply_creates_then_updates_and_removes_what_the_manager_dropped() {
        let created = apply(
            None,
            &pod(json!({"a": "1", "b": "2"}), "nginx"),
            &opts("kubectl", false),
        )
        .unwrap();
        assert_eq!(managers(&created), [("kubectl".into(), "Apply".into())]);
        assert_eq!(
            created["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"],
            json!({"f:containers": {"k:{\"name\":\"main\"}": {".": {}, "f:name": {}, "f:image": {}}}})
        );
        let updated = apply(
            Some(&created),
            &pod(json!({"a": "1"}), "nginx:1.27"),
            &opts("kubectl", false),
        )
        .unwrap();
        assert_eq!(updated["metadata"]["labels"], json!({"a": "1"}));
        assert_eq!(updated["spec"]["containers"][0]["image"], "nginx:1.27");
        assert_eq!(managers(&updated).len(), 1);
    }

    #[test]
    fn fields_owned_by_others_conflict_unless_forced_and_are_kept_when_dropped() {
        let created = apply(
            None,
            &pod(json!({"a": "1"}), "nginx"),
            &opts("kubectl", false),
        )
        .unwrap();
        // `kubectl label` changes a and adds b.
        let mut labelled = created.clone();
        labelled["metadata"]["labels"] = json!({"a": "2", "b": "x"});
        record_update(
            Some(&created),
            &mut labelled,
            "kubectl-label",
            "v1",
            &Time::now(),
        );
        assert_eq!(
            managers(&labelled),
            [
                ("kubectl".into(), "Apply".into()),
                ("kubectl-label".into(), "Update".into())
            ]
        );
        let err = apply(
            Some(&labelled),
            &pod(json!({"a": "3"}), "nginx"),
            &opts("kubectl", false),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-label\" using v1: .metadata.labels.a"
        );
        let status = err.to_status();
        assert_eq!(status.code, Some(409));
        let cause = &status.details.unwrap().causes[0];
        assert_eq!(cause.reason.as_deref(), Some("FieldManagerConflict"));
        assert_eq!(cause.field.as_deref(), Some(".metadata.labels.a"));

        // Same value: shared ownership, no conflict.
        let shared = apply(
            Some(&labelled),
            &pod(json!({"a": "2"}), "nginx"),
            &opts("kubectl", false),
        )
        .unwrap();
        // Dropping it keeps it: kubectl-label owns it too.
        let dropped = apply(
            Some(&shared),
            &pod(json!({}), "nginx"),
            &opts("kubectl", false),
        )
        .unwrap();
        assert_eq!(dropped["metadata"]["labels"], json!({"a": "2", "b": "x"}));

        let forced = apply(
            Some(&labelled),
            &pod(json!({"a": "3"}), "nginx"),
            &opts("kubectl", true),
        )
        .unwrap();
        assert_eq!(forced["metadata"]["labels"]["a"], "3");
        let label_set =
            FieldSet::from_fields_v1(&forced["metadata"]["managedFields"][1]["fieldsV1"]).unwrap();
        assert_eq!(
            label_set.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:b": {}}}})
        );
    }

    #[test]
    fn two_conflicts_are_listed_by_manager() {
        let c = |p: &str| Conflict {
            manager: "m".into(),
            operation: APPLY.into(),
            api_version: "v1".into(),
            path: FieldPath(vec![PathElement::Field(p.into())]),
        };
        assert_eq!(
            ApplyError::Conflicts(vec![c("a"), c("b")]).to_string(),
            "Apply failed with 2 conflicts: conflicts with \"m\":\n- .a\n- .b"
        );
    }

    #[test]
    fn updates_take_changed_fields_and_drop_removed_ones() {
        let old = pod(json!({"a": "1"}), "nginx");
        let mut created = old.clone();
        record_update(None, &mut created, "kubectl-create", "v1", &Time::now());
        assert_eq!(
            managers(&created),
            [("kubectl-create".into(), "Update".into())]
        );
        let mut edited = created.clone();
        edited["spec"]["containers"][0]["image"] = json!("nginx:2");
        edited["metadata"]["labels"] = json!({});
        record_update(
            Some(&created),
            &mut edited,
            "kubectl-edit",
            "v1",
            &Time::now(),
        );
        let fields = &edited["metadata"]["managedFields"];
        assert_eq!(
            fields[0]["fieldsV1"],
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"main\"}": {".": {}, "f:name": {}}}}})
        );
        assert_eq!(
            fields[1]["fieldsV1"],
            json!({"f:metadata": {"f:labels": {}}, "f:spec": {"f:containers": {"k:{\"name\":\"main\"}": {"f:image": {}}}}})
        );
        // A write that changes nothing keeps the entries as they were.
        let mut same = edited.clone();
        record_update(Some(&edited), &mut same, "other", "v1", &Time::now());
        assert_eq!(same, edited);
    }

    #[test]
    fn dropped_list_items_are_removed() {
        let two = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                         "spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}});
        let one = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                         "spec": {"containers": [{"name": "a", "image": "1"}]}});
        let created = apply(None, &two, &opts("kubectl", false)).unwrap();
        let updated = apply(Some(&created), &one, &opts("kubectl", false)).unwrap();
        assert_eq!(
            updated["spec"]["containers"],
            json!([{"name": "a", "image": "1"}])
        );
    }
}
