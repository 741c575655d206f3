//! Content negotiation: which form of an object the client's `Accept` asks for.
//!
//! Besides the object itself, kube-apiserver answers two other forms, chosen by media-type parameters:
//! a `meta.k8s.io` **Table** (`application/json;as=Table;g=meta.k8s.io;v=v1`, what `kubectl get`
//! prints) and **metadata only** (`as=PartialObjectMetadata` for one object or a watch event,
//! `as=PartialObjectMetadataList` for a list), what kube-rs's metadata watcher and controller-runtime's
//! metadata informers ask for. `Accept` lists media ranges in order of preference; the first one the
//! endpoint can answer wins, and when none can, the answer is 406 NotAcceptable.
//!
//! Skiff answers JSON when the client takes it: a protobuf range counts as its JSON twin (clients read
//! the response's `Content-Type`), so `application/vnd.kubernetes.protobuf,application/json` gets
//! JSON. A client that takes protobuf only ([`protobuf_only`]) gets protobuf
//! ([`super::protobuf::answer`]); watches stay JSON.

use serde_json::{json, Value};

use skiff_core::ApiResource;

use super::response::{ApiError, Json};

/// The form a response takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// The object (or list) itself.
    Full,
    /// A `meta.k8s.io/v1` Table.
    Table,
    /// `PartialObjectMetadata` (or its list): kind, apiVersion and metadata only.
    Metadata,
}

/// Whether the endpoint answers one object (get, a write, each watch event) or a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// One object.
    Object,
    /// A list.
    List,
}

/// The `meta.k8s.io` versions these forms are served in.
const META_VERSIONS: [&str; 2] = ["v1", "v1beta1"];

/// The form `accept` asks for from an endpoint that gives `answer`; see the [module docs](self).
pub fn form(accept: Option<&str>, answer: Answer) -> Result<Form, ApiError> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Form::Full);
    };
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let (mut as_, mut group, mut version) = (None, None, None);
        for param in parts {
            match param.split_once('=') {
                Some(("as", v)) => as_ = Some(v),
                Some(("g", v)) => group = Some(v),
                Some(("v", v)) => version = Some(v),
                _ => {}
            }
        }
        let known_media = matches!(
            media.as_str(),
            "application/json"
                | "application/yaml"
                | "application/vnd.kubernetes.protobuf"
                | "application/*"
                | "*/*"
        );
        if !known_media {
            continue;
        }
        let meta =
            group == Some("meta.k8s.io") && version.is_some_and(|v| META_VERSIONS.contains(&v));
        match (as_, answer) {
            (None, _) => return Ok(Form::Full),
            (Some("Table"), _) if meta => return Ok(Form::Table),
            (Some("PartialObjectMetadata"), Answer::Object) if meta => return Ok(Form::Metadata),
            (Some("PartialObjectMetadataList"), Answer::List) if meta => return Ok(Form::Metadata),
            _ => continue,
        }
    }
    Err(ApiError::new(
        406,
        "NotAcceptable",
        format!("only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {accept:?})"),
    ))
}

/// Whether `accept` names protobuf and nothing JSON or YAML could answer (no `*/*` either):
/// `application/vnd.kubernetes.protobuf` is, `application/vnd.kubernetes.protobuf, application/json`
/// is not.
pub fn protobuf_only(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let mut protobuf = false;
    for range in accept.split(',') {
        let media = range
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/vnd.kubernetes.protobuf" => protobuf = true,
            "application/json" | "application/yaml" | "application/*" | "*/*" => return false,
            _ => {}
        }
    }
    protobuf
}

/// One object as `PartialObjectMetadata`: the object's metadata under meta.k8s.io/v1's envelope.
pub fn metadata_of(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A list as `PartialObjectMetadataList`, with the list's own metadata (resourceVersion, continue).
pub fn metadata_list(list_meta: Value, items: &[Value]) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "items": items.iter().map(metadata_of).collect::<Vec<_>>(),
    })
}

/// A write's answer in `form`: with [`Form::Metadata`], the object (or list) of `res` it carries
/// becomes its metadata form; a Status, or any other form, stays as it is.
pub fn in_form(form: Form, res: Option<&ApiResource>, mut json: Json) -> Json {
    let Some(res) = res.filter(|_| form == Form::Metadata) else {
        return json;
    };
    let kind = json.body.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind == res.kind {
        json.body = metadata_of(&json.body);
    } else if kind == format!("{}List", res.kind) {
        let items = json.body["items"].as_array().cloned().unwrap_or_default();
        json.body = metadata_list(json.body["metadata"].clone(), &items);
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
    const META_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

    #[test]
    fn picks_the_first_range_the_endpoint_can_answer() {
        assert_eq!(form(None, Answer::List).unwrap(), Form::Full);
        assert_eq!(form(Some(META_LIST), Answer::List).unwrap(), Form::Metadata);
        assert_eq!(form(Some(META), Answer::Object).unwrap(), Form::Metadata);
        // kubectl get.
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(form(Some(kubectl), Answer::List).unwrap(), Form::Table);
        // controller-runtime's metadata client lists both forms, then plain JSON.
        let both = format!("{META_LIST},{META},application/json");
        assert_eq!(form(Some(&both), Answer::Object).unwrap(), Form::Metadata);
        assert_eq!(form(Some(&both), Answer::List).unwrap(), Form::Metadata);
        assert_eq!(
            form(Some("application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"), Answer::List).unwrap(),
            Form::Metadata
        );
        assert_eq!(form(Some("*/*"), Answer::Object).unwrap(), Form::Full);
    }

    #[test]
    fn protobuf_only_when_nothing_else_is_taken() {
        assert!(protobuf_only(Some("application/vnd.kubernetes.protobuf")));
        assert!(protobuf_only(Some(
            "application/vnd.kubernetes.protobuf;as=Table;g=meta.k8s.io;v=v1"
        )));
        assert!(!protobuf_only(Some(
            "application/vnd.kubernetes.protobuf, application/json"
        )));
        assert!(!protobuf_only(Some(
            "application/vnd.kubernetes.protobuf, */*"
        )));
        assert!(!protobuf_only(Some("application/json")));
        assert!(!protobuf_only(None));
    }

    #[test]
    fn nothing_acceptable_is_406() {
        for (accept, answer) in [
            (META_LIST, Answer::Object),
            (META, Answer::List),
            (
                "application/json;as=Widget;g=meta.k8s.io;v=v1",
                Answer::Object,
            ),
            ("application/json;as=Table;g=example.com;v=v1", Answer::List),
            ("text/html", Answer::Object),
        ] {
            let e = form(Some(accept), answer).unwrap_err();
            assert_eq!(e.0.code, Some(406), "{accept}");
        }
    }

    #[test]
    fn metadata_forms() {
        let pod = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "uid": "u"}, "spec": {}});
        assert_eq!(
            serde_json::to_string(&metadata_of(&pod)).unwrap(),
            r#"{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"p","uid":"u"}}"#
        );
        let list = metadata_list(json!({"resourceVersion": "9"}), &[pod]);
        assert_eq!(list["items"][0]["metadata"]["name"], "p");
        assert_eq!(list["kind"], "PartialObjectMetadataList");
    }
}
