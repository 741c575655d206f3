//! Decoding manifests: multi-document YAML and JSON, the right kind by apiVersion/kind, errors that name the
//! document, the line and the field, strict and lax handling of unknown fields, user-defined kinds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::{Deserialize, Serialize};
use skiff_core::codec::{DecodeError, DecodeOptions, Scheme, Strictness};
use skiff_core::defaults::ApplyDefaults;
use skiff_core::kinds::{ConfigMap, Pod, ReplicaSet, Service};
use skiff_core::validation::{FieldError, FieldErrors, FieldPath, Validate};
use skiff_core::{object, Resource};

const STREAM: &str = "\
# a comment before the first document
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {k: v}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 80}]
";

#[test]
fn multi_document_yaml_decodes_each_into_its_kind() {
    let docs = Scheme::builtin()
        .decode(STREAM, DecodeOptions::strict())
        .unwrap();
    assert_eq!(docs.len(), 3);
    assert_eq!(
        docs.iter().map(|d| d.document).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(docs.iter().map(|d| d.line).collect::<Vec<_>>(), [3, 8, 18]);
    assert_eq!(
        docs[0].object.downcast_ref::<ConfigMap>().unwrap().data["k"],
        "v"
    );
    let rs: &ReplicaSet = docs[1].object.downcast_ref().unwrap();
    assert_eq!(rs.spec.template.spec.containers[0].name, "web");
    assert!(docs[2].object.downcast_ref::<Service>().is_some());
    assert!(docs[2].object.downcast_ref::<Pod>().is_none());
}

#[test]
fn json_single_stream_and_list() {
    let scheme = Scheme::builtin();
    let one = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#;
    let docs = scheme.decode(one, DecodeOptions::strict()).unwrap();
    assert_eq!(docs[0].object.name(), "a");

    let stream = format!("{one}\n{}", one.replace("\"a\"", "\"b\""));
    let docs = scheme.decode(&stream, DecodeOptions::strict()).unwrap();
    assert_eq!(
        docs.iter().map(|d| d.object.name()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(docs[1].line, 2);

    let list = format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{one},{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"cm"}}}}]}}"#
    );
    let docs = scheme.decode(&list, DecodeOptions::strict()).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].object.kind(), "ConfigMap");
}

#[test]
fn syntax_errors_name_the_document_and_the_line() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b\ndata: x\n";
    let err = Scheme::builtin()
        .decode(input, DecodeOptions::default())
        .unwrap_err();
    match &err {
        DecodeError::Syntax { document, line, .. } => {
            assert_eq!(*document, 2);
            let line = line.expect("the parser knows the line");
            assert!((7..=9).contains(&line), "line {line}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(err.to_string().starts_with("document 2 (line "), "{err}");

    let err = Scheme::builtin()
        .decode(
            "{\"apiVersion\": \"v1\",\n \"kind\": }",
            DecodeOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::Syntax {
                document: 1,
                line: Some(2),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn type_errors_name_the_field_and_the_line() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: i\n    resources:\n      limits: {cpu: lots}\n";
    let err = Scheme::builtin()
        .decode(input, DecodeOptions::default())
        .unwrap_err();
    match &err {
        DecodeError::Field {
            document,
            line,
            field,
            message,
        } => {
            assert_eq!(*document, 2);
            assert_eq!(field, "spec.containers[0].resources.limits.cpu");
            assert!(message.contains("lots"), "{message}");
            assert_eq!(*line, Some(13));
        }
        other => panic!("expected a field error, got {other:?}"),
    }

    let err = Scheme::builtin()
        .decode(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: {name: c}\n",
            DecodeOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(&err, DecodeError::Field { field, .. } if field == "spec.containers"),
        "{err:?}"
    );
}

#[test]
fn missing_or_unknown_type_meta() {
    let scheme = Scheme::builtin();
    let err = scheme
        .decode("kind: Pod\nmetadata: {name: p}\n", DecodeOptions::default())
        .unwrap_err();
    assert_eq!(
        err,
        DecodeError::MissingTypeMeta {
            document: 1,
            line: Some(1),
            field: "apiVersion"
        }
    );
    let err = scheme
        .decode(
            "apiVersion: v1\nmetadata: {name: p}\n",
            DecodeOptions::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("kind is required"), "{err}");
    let err = scheme
        .decode("apiVersion: apps/v1\nkind: Pod\n", DecodeOptions::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "document 1 (line 1): no kind \"Pod\" is registered for version \"apps/v1\""
    );
}

#[test]
fn unknown_fields_strict_warn_ignore() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labelz: {a: b}}\nspec:\n  containers:\n  - {name: c, image: i, imagee: typo}\n  bogus: 1\n";
    let scheme = Scheme::builtin();
    let err = scheme.decode(input, DecodeOptions::strict()).unwrap_err();
    assert_eq!(
        err,
        DecodeError::UnknownFields {
            document: 1,
            fields: vec![
                "metadata.labelz".into(),
                "spec.bogus".into(),
                "spec.containers[0].imagee".into()
            ],
        }
    );
    let docs = scheme
        .decode(
            input,
            DecodeOptions {
                strictness: Strictness::Warn,
            },
        )
        .unwrap();
    assert_eq!(docs[0].warnings.len(), 3);
    assert!(docs[0]
        .warnings
        .contains(&"unknown field \"spec.bogus\"".to_string()));
    let docs = scheme
        .decode(
            input,
            DecodeOptions {
                strictness: Strictness::Ignore,
            },
        )
        .unwrap();
    assert!(docs[0].warnings.is_empty());
}

#[test]
fn duplicate_fields_are_rejected_with_their_name() {
    let json = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b"},"spec":{}}"#;
    let err = Scheme::builtin()
        .decode(json, DecodeOptions::strict())
        .unwrap_err();
    assert!(
        matches!(&err, DecodeError::Field { field, message, .. } if field == "metadata" && message.contains("duplicate field `name`")),
        "{err:?}"
    );
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n";
    let err = Scheme::builtin()
        .decode(yaml, DecodeOptions::strict())
        .unwrap_err();
    assert!(err.to_string().contains("name"), "{err}");
}

#[test]
fn empty_input_has_no_documents() {
    assert!(Scheme::builtin()
        .decode("# nothing\n---\n", DecodeOptions::default())
        .unwrap()
        .is_empty());
}

/// What a Greeting asks for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GreetingSpec {
    /// Text to greet with.
    #[serde(default)]
    pub message: String,
    /// How many greeters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
}

object! {
    /// A user-defined kind.
    pub struct Greeting {
        /// Desired state.
        #[serde(default)]
        pub spec: GreetingSpec,
    }
    resource {
        kind: "Greeting", group: "example.com", version: "v1",
        plural: "greetings", singular: "greeting", short_names: ["gr"], scope: Namespaced,
    }
}

impl ApplyDefaults for Greeting {
    fn apply_defaults(&mut self) {
        self.spec.replicas.get_or_insert(1);
    }
}

/// No server-owned fields.
impl skiff_core::strategy::Strategy for Greeting {}

impl Validate for Greeting {
    fn validate(&self) -> FieldErrors {
        let mut errs = FieldErrors::default();
        if self.spec.message.is_empty() {
            errs.push(FieldError::required(
                &FieldPath::new("spec").child("message"),
                "",
            ));
        }
        errs
    }
}

#[test]
fn user_defined_kinds_register_decode_default_and_validate() {
    let mut scheme = Scheme::builtin();
    scheme.register::<Greeting>();
    assert_eq!(
        scheme.lookup("example.com/v1", "Greeting").unwrap().plural,
        "greetings"
    );
    let input = "apiVersion: example.com/v1\nkind: Greeting\nmetadata: {name: hi}\nspec: {message: hello}\n---\napiVersion: example.com/v1\nkind: Greeting\nmetadata: {name: empty}\nspec: {mesage: typo}\n";
    let err = scheme.decode(input, DecodeOptions::strict()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "document 2: strict decoding error: unknown field \"spec.mesage\""
    );
    let mut docs = scheme.decode(input, DecodeOptions::default()).unwrap();
    for d in &mut docs {
        d.object.apply_defaults();
    }
    let hi = docs[0].object.clone().downcast::<Greeting>().unwrap();
    assert_eq!(
        (hi.spec.message.as_str(), hi.spec.replicas),
        ("hello", Some(1))
    );
    assert!(docs[0].object.validate().is_empty());
    assert!(docs[1].object.validate().has_field("spec.message"));
    assert_eq!(Greeting::SHORT_NAMES, ["gr"]);
    let json = docs[0].object.to_json().unwrap();
    assert_eq!(json["apiVersion"], "example.com/v1");
    assert_eq!(json["spec"]["replicas"], 1);
}

#[test]
fn user_defined_kinds_get_openapi_schemas_through_the_scheme() {
    let mut scheme = Scheme::builtin();
    scheme.register::<Greeting>();
    let schemas = skiff_core::openapi::Schemas::generate(&scheme);
    let doc = schemas.for_group_version("example.com", "v1");
    let greeting = &doc["com.example.v1.Greeting"];
    assert_eq!(
        greeting["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "example.com", "kind": "Greeting", "version": "v1"}])
    );
    assert_eq!(greeting["description"], "A user-defined kind.");
    let spec_ref = greeting["properties"]["spec"]["allOf"][0]["$ref"]
        .as_str()
        .unwrap();
    let spec = &doc[spec_ref.trim_start_matches("#/components/schemas/")];
    assert_eq!(
        spec["properties"]["message"]["description"],
        "Text to greet with."
    );
    assert!(
        !doc.contains_key("io.k8s.api.core.v1.Pod"),
        "only this group-version's kinds and what they use"
    );
}
