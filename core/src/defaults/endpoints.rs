//! Endpoints defaults (`SetDefaults_Endpoints`).

use super::{fill, ApplyDefaults};
use crate::kinds::Endpoints;

impl ApplyDefaults for Endpoints {
    /// Port protocol `TCP` when absent or empty.
    fn apply_defaults(&mut self) {
        for subset in &mut self.subsets {
            for port in &mut subset.ports {
                fill(&mut port.protocol, "TCP");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_protocol_defaults_to_tcp_and_a_given_one_is_kept() {
        let mut ep: Endpoints = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "e"},
            "subsets": [{"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}, {"port": 81, "protocol": ""}]}]
        }))
        .unwrap();
        ep.apply_defaults();
        let ports = &ep.subsets[0].ports;
        assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
        assert_eq!(ports[1].protocol.as_deref(), Some("UDP"));
        assert_eq!(ports[2].protocol.as_deref(), Some("TCP"));
    }
}
