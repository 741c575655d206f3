//! `Object`: one decoded object of any registered kind, typed underneath.

use std::any::Any;
use std::fmt;

use crate::defaults::ApplyDefaults;
use crate::meta::ObjectMeta;
use crate::strategy::Strategy;
use crate::validation::{FieldErrors, Validate};
use crate::{ApiResource, Resource};

/// What [`Object`] needs of a kind; implemented for every `Resource + ApplyDefaults + Validate`.
pub trait AnyResource: Any + fmt::Debug + Send + Sync {
    /// The kind's run-time description.
    fn resource(&self) -> ApiResource;
    /// The object's metadata.
    fn meta(&self) -> &ObjectMeta;
    /// The object's metadata, mutably.
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    /// Fills defaults as Kubernetes does.
    fn apply_defaults(&mut self);
    /// Validates as Kubernetes does.
    fn validate(&self) -> FieldErrors;
    /// The kind's create hook ([`Strategy::prepare_for_create`]).
    fn prepare_for_create(&mut self);
    /// The kind's status-update hook; does nothing when `old` is another kind.
    fn prepare_for_status_update(&mut self, old: &dyn Any);
    /// The kind's update hook; does nothing when `old` is another kind.
    fn prepare_for_update(&mut self, old: &dyn Any);
    /// The kind's create-only validation ([`Strategy::validate_create`]).
    fn validate_create(&self) -> FieldErrors;
    /// The kind's update-only validation ([`Strategy::validate_update`]); empty when `old` is another kind.
    fn validate_update(&self, old: &dyn Any) -> FieldErrors;
    /// Serializes to JSON.
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error>;
    /// Upcast for downcasting.
    fn as_any(&self) -> &dyn Any;
    /// Upcast for downcasting by value.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    /// Clones behind the box.
    fn clone_box(&self) -> Box<dyn AnyResource>;
}

impl<K: Resource + ApplyDefaults + Validate + Strategy> AnyResource for K {
    fn resource(&self) -> ApiResource {
        K::api_resource()
    }
    fn meta(&self) -> &ObjectMeta {
        Resource::meta(self)
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        Resource::meta_mut(self)
    }
    fn apply_defaults(&mut self) {
        ApplyDefaults::apply_defaults(self)
    }
    fn validate(&self) -> FieldErrors {
        Validate::validate(self)
    }
    fn prepare_for_create(&mut self) {
        Strategy::prepare_for_create(self)
    }
    fn prepare_for_status_update(&mut self, old: &dyn Any) {
        if let Some(old) = old.downcast_ref::<K>() {
            Strategy::prepare_for_status_update(self, old)
        }
    }
    fn prepare_for_update(&mut self, old: &dyn Any) {
        if let Some(old) = old.downcast_ref::<K>() {
            Strategy::prepare_for_update(self, old)
        }
    }
    fn validate_create(&self) -> FieldErrors {
        Strategy::validate_create(self)
    }
    fn validate_update(&self, old: &dyn Any) -> FieldErrors {
        match old.downcast_ref::<K>() {
            Some(old) => Strategy::validate_update(self, old),
            None => FieldErrors::default(),
        }
    }
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
    fn clone_box(&self) -> Box<dyn AnyResource> {
        Box::new(self.clone())
    }
}

/// One object of any registered kind, as decoded from a manifest.
///
/// Look inside with [`Object::downcast_ref`], take it out with [`Object::downcast`]:
///
/// ```
/// # use skiff_core::codec::{Object, Scheme};
/// # use skiff_core::kinds::Pod;
/// let docs = Scheme::builtin().decode_yaml(
///     "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: web, image: nginx}]\n",
///     Default::default(),
/// ).unwrap();
/// let obj: &Object = &docs[0].object;
/// assert_eq!(obj.kind(), "Pod");
/// let pod: &Pod = obj.downcast_ref().unwrap();
/// assert_eq!(pod.spec.containers[0].image.as_deref(), Some("nginx"));
/// ```
pub struct Object(Box<dyn AnyResource>);

impl Object {
    /// Wraps a typed object.
    pub fn new<K: Resource + ApplyDefaults + Validate + Strategy>(obj: K) -> Self {
        Self(Box::new(obj))
    }

    /// The kind's run-time description.
    pub fn resource(&self) -> ApiResource {
        self.0.resource()
    }

    /// The kind, e.g. `Pod`.
    pub fn kind(&self) -> String {
        self.0.resource().kind
    }

    /// The object's name, or `""`.
    pub fn name(&self) -> &str {
        self.0.meta().name.as_deref().unwrap_or("")
    }

    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        self.0.meta()
    }

    /// The object's metadata, mutably.
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.0.meta_mut()
    }

    /// Fills defaults as Kubernetes does on create.
    pub fn apply_defaults(&mut self) {
        self.0.apply_defaults()
    }

    /// Runs the kind's create hook (after [`Object::apply_defaults`]): see [`crate::strategy`].
    pub fn prepare_for_create(&mut self) {
        self.0.prepare_for_create()
    }

    /// Runs the kind's status-update hook against the stored object `old` (see [`crate::strategy`]).
    pub fn prepare_for_status_update(&mut self, old: &Object) {
        self.0.prepare_for_status_update(old.0.as_any())
    }

    /// Runs the kind's update hook against the stored object `old` (see [`crate::strategy`]).
    pub fn prepare_for_update(&mut self, old: &Object) {
        self.0.prepare_for_update(old.0.as_any())
    }

    /// Validates a create as Kubernetes does: [`Object::validate`] and the kind's create-only rules.
    pub fn validate_create(&self) -> FieldErrors {
        let mut errs = self.0.validate();
        errs.extend(self.0.validate_create());
        errs
    }

    /// Validates an update of the stored object `old` as Kubernetes does: [`Object::validate`] and the
    /// kind's update-only rules.
    pub fn validate_update(&self, old: &Object) -> FieldErrors {
        let mut errs = self.0.validate();
        errs.extend(self.0.validate_update(old.0.as_any()));
        errs
    }

    /// Validates as Kubernetes does (call after [`Object::apply_defaults`]).
    pub fn validate(&self) -> FieldErrors {
        self.0.validate()
    }

    /// The object as JSON, in Kubernetes' wire format.
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        self.0.to_json()
    }

    /// A reference to the typed object, if it is a `K`.
    pub fn downcast_ref<K: Resource>(&self) -> Option<&K> {
        self.0.as_any().downcast_ref()
    }

    /// The typed object, if it is a `K`; otherwise the object back.
    pub fn downcast<K: Resource>(self) -> Result<K, Object> {
        if self.0.as_any().is::<K>() {
            match self.0.into_any().downcast::<K>() {
                Ok(k) => Ok(*k),
                Err(_) => unreachable!("type checked just above"),
            }
        } else {
            Err(self)
        }
    }
}

impl Clone for Object {
    fn clone(&self) -> Self {
        Self(self.0.clone_box())
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
