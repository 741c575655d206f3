//! The `Resource` trait: what Skiff needs to know about a kind to store it, serve it and watch it.
//!
//! Built-in kinds implement it through the [`object!`](crate::object) macro; so can yours:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use skiff_core::{object, Resource, Scope};
//!
//! /// What a Greeting asks for.
//! #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
//! #[serde(rename_all = "camelCase")]
//! pub struct GreetingSpec {
//!     /// Text to greet with.
//!     pub message: String,
//!     /// How many greeters to run.
//!     #[serde(default)]
//!     pub replicas: i32,
//! }
//!
//! object! {
//!     /// A user-defined kind.
//!     pub struct Greeting {
//!         /// Desired state.
//!         #[serde(default)]
//!         pub spec: GreetingSpec,
//!     }
//!     resource {
//!         kind: "Greeting", group: "example.com", version: "v1",
//!         plural: "greetings", singular: "greeting", short_names: ["gr"], scope: Namespaced,
//!     }
//! }
//!
//! let g = Greeting::named("hello");
//! assert_eq!(g.api_version, "example.com/v1");
//! assert_eq!(Greeting::api_resource().plural, "greetings");
//! assert_eq!(Greeting::SCOPE, Scope::Namespaced);
//! ```

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::meta::ObjectMeta;

/// Whether objects of a kind live in a namespace or across the whole cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// One object per (namespace, name): Pods, Services, ReplicaSets...
    Namespaced,
    /// One object per name in the cluster: Nodes, Namespaces...
    Cluster,
}

/// A kind Skiff can store and serve.
///
/// Implemented by every built-in kind, and by users for their own kinds (usually through
/// [`object!`](crate::object)). The constants are what discovery reports and what URLs are made of:
/// `/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}/{name}`.
pub trait Resource: Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// CamelCase kind, e.g. `Pod`.
    const KIND: &'static str;
    /// API group; empty for the core group.
    const GROUP: &'static str;
    /// API version within the group, e.g. `v1`.
    const VERSION: &'static str;
    /// Lower-case plural used in URLs, e.g. `pods`.
    const PLURAL: &'static str;
    /// Lower-case singular, e.g. `pod`.
    const SINGULAR: &'static str;
    /// Short names kubectl accepts, e.g. `["po"]`.
    const SHORT_NAMES: &'static [&'static str] = &[];
    /// Namespaced or cluster-scoped.
    const SCOPE: Scope;
    /// Fields beyond `metadata.name` (and `metadata.namespace` for namespaced kinds) that
    /// `?fieldSelector=` may name, as the kind's `ToSelectableFields` in Kubernetes lists them.
    const SELECTABLE_FIELDS: &'static [SelectableField] = &[];

    /// The object's metadata.
    fn meta(&self) -> &ObjectMeta;
    /// The object's metadata, mutably.
    fn meta_mut(&mut self) -> &mut ObjectMeta;

    /// `group/version`, or `version` for the core group.
    fn api_version() -> String {
        if Self::GROUP.is_empty() {
            Self::VERSION.to_string()
        } else {
            format!("{}/{}", Self::GROUP, Self::VERSION)
        }
    }

    /// The run-time description of this kind.
    fn api_resource() -> ApiResource {
        ApiResource {
            group: Self::GROUP.into(),
            version: Self::VERSION.into(),
            kind: Self::KIND.into(),
            plural: Self::PLURAL.into(),
            singular: Self::SINGULAR.into(),
            short_names: Self::SHORT_NAMES.iter().map(|s| s.to_string()).collect(),
            scope: Self::SCOPE,
            selectable_fields: Self::SELECTABLE_FIELDS,
        }
    }

    /// The object's name, or `""` when it has none yet.
    fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or("")
    }

    /// The object's namespace, if set.
    fn namespace(&self) -> Option<&str> {
        self.meta().namespace.as_deref()
    }
}

/// A kind described at run time: what [`Resource`] says at compile time, as data.
///
/// Used for kinds known only at run time (see [`DynamicObject`](crate::DynamicObject)) and by discovery.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ApiResource {
    /// API group; empty for the core group.
    pub group: String,
    /// API version within the group.
    pub version: String,
    /// CamelCase kind.
    pub kind: String,
    /// Lower-case plural used in URLs.
    pub plural: String,
    /// Lower-case singular.
    pub singular: String,
    /// Short names.
    pub short_names: Vec<String>,
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// The kind's own selectable fields (see [`Resource::SELECTABLE_FIELDS`] and
    /// [`ApiResource::selectable_field`]).
    #[serde(skip)]
    pub selectable_fields: &'static [SelectableField],
}

/// A field a kind can be selected by: `?fieldSelector=spec.nodeName=n1`.
///
/// Kubernetes compares every selectable field as text, and a field the object leaves out has its Go
/// zero value: a Node without `spec.unschedulable` matches `spec.unschedulable=false`, a ReplicaSet
/// without status matches `status.replicas=0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SelectableField {
    /// The name a selector uses, e.g. `spec.nodeName`, or `source` for an Event's reporting component.
    pub label: &'static str,
    /// Where the value is in the object's JSON, dotted (`source.component`).
    pub path: &'static str,
    /// The value when the object leaves the field out (`"false"`, `"0"` or `""`).
    pub absent: &'static str,
}

impl SelectableField {
    /// A string field found under its own label's path, empty when absent.
    pub const fn string(label: &'static str) -> Self {
        Self {
            label,
            path: label,
            absent: "",
        }
    }
}

const METADATA_NAME: SelectableField = SelectableField::string("metadata.name");
const METADATA_NAMESPACE: SelectableField = SelectableField::string("metadata.namespace");

impl ApiResource {
    /// The field a selector's `label` names for this kind: `metadata.name` for every kind,
    /// `metadata.namespace` for namespaced ones, and the kind's [`selectable_fields`](Self::selectable_fields).
    /// `None` means Kubernetes refuses the selector (`field label not supported`).
    ///
    /// ```
    /// use skiff_core::kinds::{Node, Pod};
    /// use skiff_core::Resource;
    ///
    /// assert!(Pod::api_resource().selectable_field("spec.nodeName").is_some());
    /// assert_eq!(Node::api_resource().selectable_field("spec.unschedulable").unwrap().absent, "false");
    /// assert!(Node::api_resource().selectable_field("metadata.namespace").is_none());
    /// ```
    pub fn selectable_field(&self, label: &str) -> Option<SelectableField> {
        let meta: &[SelectableField] = match self.scope {
            Scope::Namespaced => &[METADATA_NAME, METADATA_NAMESPACE],
            Scope::Cluster => &[METADATA_NAME],
        };
        meta.iter()
            .chain(self.selectable_fields)
            .find(|f| f.label == label)
            .copied()
    }

    /// `plural.group` (`replicasets.apps`; just `pods` in the core group): how kube-apiserver names a
    /// resource in its messages.
    pub fn qualified_resource(&self) -> String {
        Self::qualify(&self.plural, &self.group)
    }

    /// `Kind.group` (`ReplicaSet.apps`; just `Pod` in the core group): how kube-apiserver names a kind
    /// in 422 messages.
    pub fn qualified_kind(&self) -> String {
        Self::qualify(&self.kind, &self.group)
    }

    fn qualify(name: &str, group: &str) -> String {
        if group.is_empty() {
            name.to_string()
        } else {
            format!("{name}.{group}")
        }
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Defines a kind: a struct with `apiVersion`, `kind` and `metadata` plus your fields, and its [`Resource`] impl.
///
/// The struct derives `Clone`, `Debug`, `PartialEq`, serde (camelCase) and `schemars::JsonSchema`; its
/// `Default` fills `apiVersion` and `kind`, and `Type::named(name)` builds one with a name. Field types must
/// implement `Default`. Like kube's `CustomResource` derive, it needs `serde` and `schemars` (1.x) among your
/// crate's dependencies. See the [module docs](crate::resource) for an example.
#[macro_export]
macro_rules! object {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
        resource {
            kind: $kind:literal, group: $group:literal, version: $version:literal,
            plural: $plural:literal, singular: $singular:literal,
            short_names: [$($short:literal),* $(,)?], scope: $scope:ident
            $(, selectable_fields: [$($field_sel:expr),* $(,)?])? $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize, ::schemars::JsonSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// The kind of this object, in CamelCase (`Pod`). First on the wire, as kube-apiserver writes it.
            #[serde(default, skip_serializing_if = "String::is_empty")]
            pub kind: String,
            /// The versioned schema of this object: `group/version`, or `version` for the core group (`v1`, `apps/v1`).
            #[serde(default, skip_serializing_if = "String::is_empty")]
            pub api_version: String,
            /// Standard object metadata.
            #[serde(default)]
            pub metadata: $crate::meta::ObjectMeta,
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl ::std::default::Default for $name {
            fn default() -> Self {
                Self {
                    api_version: <Self as $crate::Resource>::api_version(),
                    kind: $kind.to_string(),
                    metadata: ::std::default::Default::default(),
                    $( $field: ::std::default::Default::default(), )*
                }
            }
        }

        impl $name {
            /// An object with this name and every other field at its default.
            pub fn named(name: impl Into<String>) -> Self {
                let mut obj = <Self as ::std::default::Default>::default();
                obj.metadata.name = Some(name.into());
                obj
            }
        }

        impl $crate::Resource for $name {
            const KIND: &'static str = $kind;
            const GROUP: &'static str = $group;
            const VERSION: &'static str = $version;
            const PLURAL: &'static str = $plural;
            const SINGULAR: &'static str = $singular;
            const SHORT_NAMES: &'static [&'static str] = &[$($short),*];
            const SCOPE: $crate::Scope = $crate::Scope::$scope;
            $(const SELECTABLE_FIELDS: &'static [$crate::SelectableField] = &[$($field_sel),*];)?

            fn meta(&self) -> &$crate::meta::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut $crate::meta::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}
