//! A controller for your own kind, in about fifty lines of logic.
//!
//! `Greeting { spec: { message, replicas } }` is a user-defined kind; its controller keeps `replicas`
//! ConfigMaps holding the message, owned by the Greeting (so deleting one brings it back), and reports
//! how many exist in `status.ready`. Everything runs in-process on a memory store:
//!
//! ```sh
//! cargo run --example custom_controller
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use skiff::core::client::{Api, ClientError, DeleteParams, InProcessClient, ListParams, Patch};
use skiff::core::controller::{Action, Context, Controller, Reconciler};
use skiff::core::informer::Informer;
use skiff::core::kinds::ConfigMap;
use skiff::core::meta::{ObjectMeta, OwnerReference};
use skiff::core::shutdown::Shutdown;
use skiff::core::store::MemoryStore;
use skiff::core::{object, Resource};

/// What a Greeting asks for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GreetingSpec {
    /// The text every ConfigMap carries.
    pub message: String,
    /// How many ConfigMaps.
    pub replicas: usize,
}

/// What the controller observed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GreetingStatus {
    /// ConfigMaps that exist.
    pub ready: usize,
}

object! {
    /// A user-defined kind.
    pub struct Greeting {
        /// Desired state.
        #[serde(default)]
        pub spec: GreetingSpec,
        /// Observed state.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<GreetingStatus>,
    }
    resource {
        kind: "Greeting", group: "example.com", version: "v1",
        plural: "greetings", singular: "greeting", short_names: ["gr"], scope: Namespaced,
    }
}

/// The controller: observe the Greeting's ConfigMaps, create the missing, delete the extra, report.
struct Greeter {
    configmaps: Arc<Informer<ConfigMap>>,
}

#[async_trait]
impl Reconciler<Greeting> for Greeter {
    type Error = ClientError;

    async fn reconcile(
        &self,
        g: Arc<Greeting>,
        ctx: &Context<Greeting>,
    ) -> Result<Action, ClientError> {
        let ns = g.namespace().unwrap_or("default");
        let cms: Api<ConfigMap> = Api::namespaced(ctx.client().clone(), ns);
        let owned: Vec<_> = self
            .configmaps
            .cache()
            .by_index("owner", g.metadata.uid.as_deref().unwrap_or_default());
        for i in owned.len()..g.spec.replicas {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    generate_name: Some(format!("{}-", g.name())),
                    owner_references: vec![owner_ref(&g)],
                    ..ObjectMeta::default()
                },
                data: BTreeMap::from([("message".into(), format!("{} #{i}", g.spec.message))]),
                ..ConfigMap::default()
            };
            cms.create(&cm).await?;
        }
        for extra in owned.iter().skip(g.spec.replicas) {
            cms.delete(extra.name(), &DeleteParams::default()).await?;
        }
        let status = serde_json::json!({"status": {"ready": owned.len().min(g.spec.replicas)}});
        let greetings: Api<Greeting> = Api::namespaced(ctx.client().clone(), ns);
        greetings
            .patch_status(g.name(), &Patch::Merge(status))
            .await?;
        Ok(Action::requeue(Duration::from_secs(300)))
    }
}

fn owner_ref(g: &Greeting) -> OwnerReference {
    OwnerReference {
        api_version: Greeting::api_version(),
        kind: Greeting::KIND.into(),
        name: g.name().into(),
        uid: g.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
    let configmaps = Informer::new(Api::<ConfigMap>::all(client.clone()));
    configmaps.cache().add_index("owner", |cm: &ConfigMap| {
        cm.metadata
            .owner_references
            .iter()
            .map(|r| r.uid.clone())
            .collect()
    });
    let (stop, shutdown) = Shutdown::new();
    let controller = Controller::for_api("greeter", Api::<Greeting>::all(client.clone()))
        .owns(configmaps.clone())
        .generation_changed();
    let running = tokio::spawn(controller.run(
        Arc::new(Greeter {
            configmaps: configmaps.clone(),
        }),
        shutdown,
    ));

    let greetings: Api<Greeting> = Api::namespaced(client.clone(), "default");
    let mut hello = Greeting::named("hello");
    hello.spec = GreetingSpec {
        message: "hello, world".into(),
        replicas: 3,
    };
    greetings.create(&hello).await?;
    converge(&greetings, &client, 3).await?;

    // Self-healing: delete one ConfigMap; the owner's reconcile puts it back.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let victim = cms.list(&ListParams::default()).await?.items[0]
        .name()
        .to_string();
    println!("deleting {victim}");
    cms.delete(&victim, &DeleteParams::default()).await?;
    converge(&greetings, &client, 3).await?;

    // Scale down.
    greetings
        .patch(
            "hello",
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 1}})),
        )
        .await?;
    converge(&greetings, &client, 1).await?;

    stop.trigger();
    running.await?;
    Ok(())
}

/// Waits until the Greeting has `want` ConfigMaps and says so in its status.
async fn converge(
    greetings: &Api<Greeting>,
    client: &Arc<dyn skiff::core::client::Client>,
    want: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for _ in 0..500 {
        let count = cms.list(&ListParams::default()).await?.items.len();
        let ready = greetings.get("hello").await?.status.map(|s| s.ready);
        if count == want && ready == Some(want) {
            println!("converged: {count} ConfigMaps, status.ready = {want}");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(format!("did not converge to {want}").into())
}
