//! `Scheme`: the registry of kinds, and decoding of manifests into them.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::documents::{line_of, split_yaml, Document};
use super::typed::{decode_typed, Source, TypedError};
use super::{DecodeError, Object};
use crate::defaults::ApplyDefaults;
use crate::strategy::Strategy;
use crate::validation::Validate;
use crate::{kinds, ApiResource, Resource};

/// What to do with fields a kind does not have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strictness {
    /// Reject the document, naming every unknown field (`fieldValidation=Strict`; kubectl's default).
    Strict,
    /// Accept it and report each unknown field as a warning (`fieldValidation=Warn`).
    #[default]
    Warn,
    /// Accept it silently (`fieldValidation=Ignore`).
    Ignore,
}

/// How to decode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// What to do with unknown fields.
    pub strictness: Strictness,
}

impl DecodeOptions {
    /// Options that reject unknown fields.
    pub fn strict() -> Self {
        Self {
            strictness: Strictness::Strict,
        }
    }
}

/// One decoded document.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// Document number, from 1.
    pub document: usize,
    /// Line where the document starts, from 1.
    pub line: usize,
    /// The object, typed underneath.
    pub object: Object,
    /// Warnings, e.g. `unknown field "spec.containers[0].imagee"` (only with [`Strictness::Warn`]).
    pub warnings: Vec<String>,
}

type DecodeFn = fn(Source<'_>) -> Result<(Object, Vec<String>), TypedError>;

/// Adds a kind's JSON schema (and those of the types it uses) to a generator and returns a reference to it.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

#[derive(Clone)]
struct Registration {
    resource: ApiResource,
    decode: DecodeFn,
    schema: SchemaFn,
}

fn decode_as<K: Resource + ApplyDefaults + Validate + Strategy>(
    src: Source<'_>,
) -> Result<(Object, Vec<String>), TypedError> {
    decode_typed::<K>(src).map(|(k, unknown)| (Object::new(k), unknown))
}

/// The kinds a program knows, by `apiVersion` and `kind`, and how to decode them.
///
/// ```
/// use skiff_core::codec::{DecodeOptions, Scheme};
///
/// let scheme = Scheme::builtin();
/// let err = scheme
///     .decode_yaml("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containerz: []\n", DecodeOptions::strict())
///     .unwrap_err();
/// assert_eq!(err.to_string(), "document 1: strict decoding error: unknown field \"spec.containerz\"");
/// ```
#[derive(Clone, Default)]
pub struct Scheme {
    kinds: BTreeMap<(String, String), Registration>,
}

impl Scheme {
    /// A scheme with no kinds.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scheme with every built-in kind.
    pub fn builtin() -> Self {
        let mut s = Self::new();
        s.register::<kinds::Pod>()
            .register::<kinds::ReplicaSet>()
            .register::<kinds::Service>()
            .register::<kinds::Endpoints>()
            .register::<kinds::EndpointSlice>()
            .register::<kinds::IPAddress>()
            .register::<kinds::ServiceCIDR>()
            .register::<kinds::Node>()
            .register::<kinds::Namespace>()
            .register::<kinds::Event>()
            .register::<kinds::ConfigMap>()
            .register::<kinds::Secret>()
            .register::<kinds::Lease>()
            .register::<kinds::APIService>();
        s
    }

    /// Adds a kind (built-in or your own); its JSON schema (from `schemars`) is what `kubectl explain` shows.
    pub fn register<K: Resource + ApplyDefaults + Validate + Strategy + JsonSchema>(
        &mut self,
    ) -> &mut Self {
        self.kinds.insert(
            (K::api_version(), K::KIND.to_string()),
            Registration {
                resource: K::api_resource(),
                decode: decode_as::<K>,
                schema: SchemaGenerator::subschema_for::<K>,
            },
        );
        self
    }

    /// Every registered kind.
    pub fn resources(&self) -> impl Iterator<Item = &ApiResource> {
        self.kinds.values().map(|r| &r.resource)
    }

    /// Every registered kind with the function that generates its schema (see [`crate::openapi`]).
    pub fn schemas(&self) -> impl Iterator<Item = (&ApiResource, SchemaFn)> {
        self.kinds.values().map(|r| (&r.resource, r.schema))
    }

    /// The registered kind with this `apiVersion` and `kind`.
    pub fn lookup(&self, api_version: &str, kind: &str) -> Option<&ApiResource> {
        self.kinds
            .get(&(api_version.to_string(), kind.to_string()))
            .map(|r| &r.resource)
    }

    /// Decodes YAML or JSON, guessing from the first character (`{` or `[` means JSON).
    pub fn decode(&self, input: &str, opts: DecodeOptions) -> Result<Vec<Decoded>, DecodeError> {
        if input.trim_start().starts_with(['{', '[']) {
            self.decode_json(input, opts)
        } else {
            self.decode_yaml(input, opts)
        }
    }

    /// Decodes a YAML stream of one or more documents (`---` separated); a `kind: List` expands to its items.
    pub fn decode_yaml(
        &self,
        input: &str,
        opts: DecodeOptions,
    ) -> Result<Vec<Decoded>, DecodeError> {
        let mut out = Vec::new();
        for (i, doc) in split_yaml(input).into_iter().enumerate() {
            let document = i + 1;
            let value: serde_json::Value =
                serde_yaml::from_str(doc.text).map_err(|e| DecodeError::Syntax {
                    document,
                    line: e.location().map(|l| l.line() + doc.first_line - 1),
                    message: strip_location(&e.to_string()),
                })?;
            self.decode_document(
                &doc,
                Source::Yaml(doc.text),
                &value,
                document,
                opts,
                &mut out,
            )?;
        }
        Ok(out)
    }

    /// Decodes JSON: one object, a `List`, or several objects one after another.
    pub fn decode_json(
        &self,
        input: &str,
        opts: DecodeOptions,
    ) -> Result<Vec<Decoded>, DecodeError> {
        let mut out = Vec::new();
        let mut stream = serde_json::Deserializer::from_str(input).into_iter::<serde_json::Value>();
        let mut start = 0;
        let mut document = 0;
        loop {
            document += 1;
            let value = match stream.next() {
                None => break,
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    return Err(DecodeError::Syntax {
                        document,
                        line: Some(e.line()),
                        message: strip_location(&e.to_string()),
                    })
                }
            };
            let end = stream.byte_offset();
            let text = &input[start..end];
            let leading = text.len() - text.trim_start().len();
            let doc = Document {
                text,
                first_line: line_of(input, start + leading),
            };
            start = end;
            self.decode_document(&doc, Source::Json(text), &value, document, opts, &mut out)?;
        }
        Ok(out)
    }

    /// Decodes one already-parsed object (what the API server does with a request body).
    pub fn decode_value(
        &self,
        value: &serde_json::Value,
        opts: DecodeOptions,
    ) -> Result<Decoded, DecodeError> {
        let doc = Document {
            text: "",
            first_line: 1,
        };
        let mut out = Vec::new();
        self.decode_one(&doc, Source::Value(value), value, 1, "", opts, &mut out)?;
        out.pop().ok_or(DecodeError::MissingTypeMeta {
            document: 1,
            line: None,
            field: "kind",
        })
    }

    fn decode_document(
        &self,
        doc: &Document<'_>,
        src: Source<'_>,
        value: &serde_json::Value,
        document: usize,
        opts: DecodeOptions,
        out: &mut Vec<Decoded>,
    ) -> Result<(), DecodeError> {
        let is_list = value.get("kind").and_then(|k| k.as_str()) == Some("List")
            || value
                .get("kind")
                .and_then(|k| k.as_str())
                .is_some_and(|k| k.ends_with("List") && value.get("items").is_some());
        if is_list {
            let items = value
                .get("items")
                .and_then(|i| i.as_array())
                .cloned()
                .unwrap_or_default();
            for (i, item) in items.iter().enumerate() {
                let prefix = format!("items[{i}].");
                self.decode_one(doc, Source::Value(item), item, document, &prefix, opts, out)?;
            }
            return Ok(());
        }
        self.decode_one(doc, src, value, document, "", opts, out)
    }

    #[allow(clippy::too_many_arguments)]
    fn decode_one(
        &self,
        doc: &Document<'_>,
        src: Source<'_>,
        value: &serde_json::Value,
        document: usize,
        prefix: &str,
        opts: DecodeOptions,
        out: &mut Vec<Decoded>,
    ) -> Result<(), DecodeError> {
        let line = Some(doc.first_line);
        let field = |name: &'static str| {
            value
                .get(name)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .ok_or(DecodeError::MissingTypeMeta {
                    document,
                    line,
                    field: name,
                })
        };
        let api_version = field("apiVersion")?;
        let kind = field("kind")?;
        let reg = self
            .kinds
            .get(&(api_version.to_string(), kind.to_string()))
            .ok_or_else(|| DecodeError::UnknownKind {
                document,
                line,
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            })?;
        let (object, unknown) = (reg.decode)(src).map_err(|e| DecodeError::Field {
            document,
            line: e.line.map(|l| l + doc.first_line - 1),
            field: format!("{prefix}{}", e.field),
            message: e.message,
        })?;
        let unknown: Vec<String> = unknown
            .into_iter()
            .map(|f| format!("{prefix}{f}"))
            .collect();
        let warnings = match opts.strictness {
            Strictness::Strict if !unknown.is_empty() => {
                return Err(DecodeError::UnknownFields {
                    document,
                    fields: unknown,
                })
            }
            Strictness::Warn => unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect(),
            _ => Vec::new(),
        };
        out.push(Decoded {
            document,
            line: doc.first_line,
            object,
            warnings,
        });
        Ok(())
    }
}

fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
