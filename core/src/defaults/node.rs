//! Node defaults (`SetDefaults_NodeStatus`).

use super::ApplyDefaults;
use crate::kinds::Node;

impl ApplyDefaults for Node {
    /// `status.allocatable` copied from `status.capacity` when only the capacity is given.
    fn apply_defaults(&mut self) {
        if let Some(status) = &mut self.status {
            if status.allocatable.is_empty() && !status.capacity.is_empty() {
                status.allocatable = status.capacity.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(status: serde_json::Value) -> Node {
        let mut n: Node = serde_json::from_value(
            serde_json::json!({"metadata": {"name": "n1"}, "status": status}),
        )
        .unwrap();
        n.apply_defaults();
        n
    }

    #[test]
    fn allocatable_defaults_to_capacity() {
        let n = node(serde_json::json!({"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}));
        let s = n.status.unwrap();
        assert_eq!(s.allocatable, s.capacity);
    }

    #[test]
    fn a_given_allocatable_is_kept() {
        let n =
            node(serde_json::json!({"capacity": {"cpu": "4"}, "allocatable": {"cpu": "3500m"}}));
        let s = n.status.unwrap();
        assert_eq!(
            serde_json::to_value(&s.allocatable).unwrap(),
            serde_json::json!({"cpu": "3500m"})
        );
        let mut bare = Node::named("n2");
        bare.apply_defaults();
        assert!(bare.status.is_none());
    }
}
