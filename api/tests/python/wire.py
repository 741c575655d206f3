"""The official Kubernetes Python client against a Skiff API server (URL in argv[1]).

Each step is something the client reads straight from an answer and that broke when Skiff's answer
differed from kube-apiserver's. Exits non-zero, naming the step, on the first difference.
"""
import json
import sys

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

cfg = client.Configuration()
cfg.host = sys.argv[1]
core = client.CoreV1Api(client.ApiClient(cfg))


def refused(call, status):
    try:
        call()
    except ApiException as e:
        assert e.status == status, (e.status, e.body)
        return json.loads(e.body)
    raise AssertionError(f"expected {status}")


# Pod status on create: the client reads status.phase from the create answer.
limits = {"cpu": "100m", "memory": "64Mi"}
pod = client.V1Pod(
    metadata=client.V1ObjectMeta(name="py"),
    spec=client.V1PodSpec(
        containers=[
            client.V1Container(
                name="c", image="busybox", resources=client.V1ResourceRequirements(limits=limits)
            )
        ]
    ),
)
created = core.create_namespaced_pod("default", pod)
assert created.status.phase == "Pending", created.status
assert created.status.qos_class == "Guaranteed", created.status

# A kind Skiff does not serve: 404 with kube-apiserver's message.
rc = client.V1ReplicationController(metadata=client.V1ObjectMeta(name="rc"))
body = refused(lambda: core.create_namespaced_replication_controller("default", rc), 404)
assert body["message"] == "the server could not find the requested resource", body

# dryRun=All answers the object and stores nothing; NotFound names the resource.
cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dry"), data={"k": "v"})
answered = core.create_namespaced_config_map("default", cm, dry_run="All")
assert answered.metadata.uid, answered
body = refused(lambda: core.read_namespaced_config_map("dry", "default"), 404)
assert body["details"] == {"name": "dry", "kind": "configmaps"}, body

# Field selectors: a node without spec.unschedulable matches ==false; unknown fields are 400.
core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name="n1")))
names = [n.metadata.name for n in core.list_node(field_selector="spec.unschedulable==false").items]
assert names == ["n1"], names
body = refused(lambda: core.list_namespaced_pod("default", field_selector="spec.foo=x"), 400)
assert body["message"] == "field label not supported: spec.foo", body

# A watch by name from "0": ADDED, then every MODIFIED, ended by timeoutSeconds.
core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w")))
core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="other")))
core.patch_namespaced_config_map("w", "default", {"data": {"n": "1"}})
core.patch_namespaced_config_map("other", "default", {"data": {"n": "1"}})
seen = [
    (e["type"], e["object"].metadata.name)
    for e in watch.Watch().stream(
        core.list_namespaced_config_map,
        "default",
        field_selector="metadata.name=w",
        resource_version="0",
        timeout_seconds=1,
    )
]
assert seen == [("ADDED", "w")], seen

print("ok")
