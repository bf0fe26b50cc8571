//! Registering a Veil server as a Kubernetes Service, so that clients in the cluster reach it by name.
//!
//! In the cluster, the Service selects the server's pods by label. Outside it (bare metal, a Slurm
//! allocation) the Service has no selector and an Endpoints object names this host's address and ports.
//! [`Registration::register`] creates both (replacing what a previous run left behind) and
//! [`Registration::deregister`] deletes them. The file channel writes the same requests as JSON files to
//! a directory instead, for sites where something else talks to the API.

use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::job_spec::dns_label;
use crate::RegistrationError;

/// One port of the registered Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSettings {
    /// The port's name (a DNS label, e.g. `http`).
    pub name: String,
    /// The port clients connect to on the Service.
    pub port: u16,
    /// The port the server listens on.
    pub target_port: u16,
}

/// Where the server runs, which decides how the Service finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// In the cluster: the Service selects the server's pods by these labels.
    InCluster {
        /// Labels of the server's pods.
        selector: BTreeMap<String, String>,
    },
    /// Outside the cluster: the Service has no selector; an Endpoints object names this address.
    OutOfCluster {
        /// This host's address, reachable from the cluster.
        address: IpAddr,
    },
}

/// What to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationSettings {
    /// The namespace of the Service.
    pub namespace: String,
    /// The Service's name (a DNS label).
    pub service_name: String,
    /// The Service's ports; at least one.
    pub ports: Vec<PortSettings>,
    /// How the Service finds the server.
    pub placement: Placement,
}

impl RegistrationSettings {
    /// Checks the names and ports Kubernetes would refuse, with a message naming the setting.
    pub fn validate(&self) -> Result<(), RegistrationError> {
        let settings = |message: String| Err(RegistrationError::Settings(message));
        if dns_label("", &self.service_name).as_deref() != Some(self.service_name.as_str()) {
            return settings(format!(
                "service name `{}` is not a DNS label (lowercase letters, digits and `-`, at most 63)",
                self.service_name
            ));
        }
        if self.namespace.is_empty() {
            return settings("namespace must not be empty".to_string());
        }
        if self.ports.is_empty() {
            return settings("at least one port is needed".to_string());
        }
        for port in &self.ports {
            if dns_label("", &port.name).as_deref() != Some(port.name.as_str()) {
                return settings(format!("port name `{}` is not a DNS label", port.name));
            }
            if port.port == 0 || port.target_port == 0 {
                return settings(format!("port `{}` must not be 0", port.name));
            }
        }
        if let Placement::InCluster { selector } = &self.placement {
            if selector.is_empty() {
                return settings("in the cluster the Service needs a pod selector".to_string());
            }
        }
        if let Placement::OutOfCluster { address } = self.placement {
            if address.is_loopback() || address.is_unspecified() || address.is_multicast() {
                return settings(format!(
                    "address {address} cannot be reached from the cluster; set one that can"
                ));
            }
        }
        Ok(())
    }
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "veil".to_string()),
        (
            "app.kubernetes.io/component".to_string(),
            "server".to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "veil".to_string(),
        ),
    ])
}

fn metadata(settings: &RegistrationSettings) -> ObjectMeta {
    ObjectMeta {
        name: Some(settings.service_name.clone()),
        namespace: Some(settings.namespace.clone()),
        labels: Some(labels()),
        ..Default::default()
    }
}

/// The Service to create: with a selector in the cluster, without one outside it.
pub fn service_payload(settings: &RegistrationSettings) -> Service {
    let ports = settings
        .ports
        .iter()
        .map(|port| ServicePort {
            name: Some(port.name.clone()),
            port: i32::from(port.port),
            target_port: Some(IntOrString::Int(i32::from(port.target_port))),
            protocol: Some("TCP".to_string()),
            ..Default::default()
        })
        .collect();
    let selector = match &settings.placement {
        Placement::InCluster { selector } => Some(selector.clone()),
        Placement::OutOfCluster { .. } => None,
    };
    Service {
        metadata: metadata(settings),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            ports: Some(ports),
            selector,
            ..Default::default()
        }),
        status: None,
    }
}

/// The Endpoints object naming this host, outside the cluster; `None` in it.
pub fn endpoints_payload(settings: &RegistrationSettings) -> Option<Endpoints> {
    let Placement::OutOfCluster { address } = settings.placement else {
        return None;
    };
    let ports = settings
        .ports
        .iter()
        .map(|port| EndpointPort {
            name: Some(port.name.clone()),
            port: i32::from(port.target_port),
            protocol: Some("TCP".to_string()),
            app_protocol: None,
        })
        .collect();
    Some(Endpoints {
        metadata: metadata(settings),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress {
                ip: address.to_string(),
                ..Default::default()
            }]),
            ports: Some(ports),
            not_ready_addresses: None,
        }]),
    })
}

/// The address this host uses to reach `host:port` (no packet is sent: the route is looked up).
pub fn detect_address(host: &str, port: u16) -> Result<IpAddr, RegistrationError> {
    let failed = |what: String| RegistrationError::Address(what);
    let target = (host, port)
        .to_socket_addrs()
        .map_err(|err| failed(format!("resolve {host}: {err}")))?
        .next()
        .ok_or_else(|| failed(format!("{host} has no address")))?;
    let bind = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(bind).map_err(|err| failed(err.to_string()))?;
    socket
        .connect(target)
        .map_err(|err| failed(format!("no route to {target}: {err}")))?;
    let local = socket.local_addr().map_err(|err| failed(err.to_string()))?;
    Ok(local.ip())
}

/// How registration requests reach Kubernetes.
#[derive(Clone)]
pub enum Channel {
    /// Straight to the API server.
    Api(Client),
    /// As JSON files in this directory, one per request (`create-service-NAME.json`, …).
    File(PathBuf),
}

/// A request written by the file channel.
#[derive(Debug, Serialize)]
struct FileRequest<'a, K: Serialize> {
    method: &'static str,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a K>,
}

/// Registers and deregisters one Service (and its Endpoints outside the cluster).
pub struct Registration {
    settings: RegistrationSettings,
    channel: Channel,
}

impl Registration {
    /// A registration of `settings` through `channel`; the settings are validated here.
    pub fn new(
        settings: RegistrationSettings,
        channel: Channel,
    ) -> Result<Self, RegistrationError> {
        settings.validate()?;
        Ok(Self { settings, channel })
    }

    /// The settings registered.
    pub fn settings(&self) -> &RegistrationSettings {
        &self.settings
    }

    /// Creates the Service (and Endpoints), replacing any left by an earlier run.
    pub async fn register(&self) -> Result<(), RegistrationError> {
        let service = service_payload(&self.settings);
        self.create_or_replace(&service).await?;
        if let Some(endpoints) = endpoints_payload(&self.settings) {
            self.create_or_replace(&endpoints).await?;
        }
        tracing::info!(service = %self.settings.service_name, namespace = %self.settings.namespace, "registered with Kubernetes");
        Ok(())
    }

    /// Deletes the Endpoints (outside the cluster) and the Service; already-deleted objects are fine.
    pub async fn deregister(&self) -> Result<(), RegistrationError> {
        if endpoints_payload(&self.settings).is_some() {
            self.delete::<Endpoints>().await?;
        }
        self.delete::<Service>().await?;
        tracing::info!(service = %self.settings.service_name, namespace = %self.settings.namespace, "deregistered from Kubernetes");
        Ok(())
    }

    fn collection_path<
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    >(
        &self,
    ) -> String {
        K::url_path(&(), Some(&self.settings.namespace))
    }

    async fn create_or_replace<K>(&self, object: &K) -> Result<(), RegistrationError>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + Serialize
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let name = &self.settings.service_name;
        let client = match &self.channel {
            Channel::File(dir) => {
                let request = FileRequest {
                    method: "POST",
                    path: self.collection_path::<K>(),
                    body: Some(object),
                };
                return write_request(dir, "create", &K::kind(&()), name, &request);
            }
            Channel::Api(client) => client.clone(),
        };
        let api: Api<K> = Api::namespaced(client, &self.settings.namespace);
        let failed = |action: &'static str, err: kube::Error| RegistrationError::Api {
            action,
            kind: kind_name::<K>(),
            namespace: self.settings.namespace.clone(),
            name: name.clone(),
            source: Box::new(err),
        };
        match api.create(&PostParams::default(), object).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(response)) if response.code == 409 => {}
            Err(err) => return Err(failed("create", err)),
        }
        let existing = api.get(name).await.map_err(|err| failed("read", err))?;
        let mut replacement = object.clone();
        replacement.meta_mut().resource_version = existing.meta().resource_version.clone();
        api.replace(name, &PostParams::default(), &replacement)
            .await
            .map_err(|err| failed("replace", err))?;
        Ok(())
    }

    async fn delete<K>(&self) -> Result<(), RegistrationError>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + Serialize
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let name = &self.settings.service_name;
        let client = match &self.channel {
            Channel::File(dir) => {
                let request = FileRequest::<()> {
                    method: "DELETE",
                    path: format!("{}/{name}", self.collection_path::<K>()),
                    body: None,
                };
                return write_request(dir, "delete", &K::kind(&()), name, &request);
            }
            Channel::Api(client) => client.clone(),
        };
        let api: Api<K> = Api::namespaced(client, &self.settings.namespace);
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(response)) if response.code == 404 => Ok(()),
            Err(err) => Err(RegistrationError::Api {
                action: "delete",
                kind: kind_name::<K>(),
                namespace: self.settings.namespace.clone(),
                name: name.clone(),
                source: Box::new(err),
            }),
        }
    }
}

fn kind_name<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()).as_ref() {
        "Service" => "Service",
        "Endpoints" => "Endpoints",
        _ => "object",
    }
}

/// Writes `request` to `DIR/ACTION-KIND-NAME.json` atomically (temporary file, then rename).
fn write_request<T: Serialize>(
    dir: &Path,
    action: &str,
    kind: &str,
    name: &str,
    request: &T,
) -> Result<(), RegistrationError> {
    let file_name = format!("{action}-{}-{name}.json", kind.to_ascii_lowercase());
    let path = dir.join(&file_name);
    let failed = |source| RegistrationError::File {
        path: path.clone(),
        source,
    };
    let mut text =
        serde_json::to_string_pretty(request).map_err(|err| failed(std::io::Error::other(err)))?;
    text.push('\n');
    std::fs::create_dir_all(dir).map_err(failed)?;
    let temporary = dir.join(format!(".{file_name}.tmp"));
    std::fs::write(&temporary, text).map_err(failed)?;
    std::fs::rename(&temporary, &path).map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(placement: Placement) -> RegistrationSettings {
        RegistrationSettings {
            namespace: "veil".to_string(),
            service_name: "veil-server".to_string(),
            ports: vec![PortSettings {
                name: "http".to_string(),
                port: 80,
                target_port: 8851,
            }],
            placement,
        }
    }

    #[test]
    fn in_cluster_service_selects_pods_and_has_no_endpoints() {
        let selector = BTreeMap::from([("app".to_string(), "veil".to_string())]);
        let settings = settings(Placement::InCluster {
            selector: selector.clone(),
        });
        let service = service_payload(&settings);
        assert_eq!(service.spec.unwrap().selector, Some(selector));
        assert!(endpoints_payload(&settings).is_none());
    }

    #[test]
    fn out_of_cluster_endpoints_name_the_address_and_target_ports() {
        let settings = settings(Placement::OutOfCluster {
            address: "10.0.0.7".parse().unwrap(),
        });
        assert!(service_payload(&settings).spec.unwrap().selector.is_none());
        let subset = endpoints_payload(&settings).unwrap().subsets.unwrap()[0].clone();
        assert_eq!(subset.addresses.unwrap()[0].ip, "10.0.0.7");
        assert_eq!(subset.ports.unwrap()[0].port, 8851);
    }

    #[test]
    fn settings_kubernetes_would_refuse_are_named() {
        let mut bad = settings(Placement::OutOfCluster {
            address: "127.0.0.1".parse().unwrap(),
        });
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("127.0.0.1 cannot be reached"), "{err}");
        bad.placement = Placement::InCluster {
            selector: BTreeMap::new(),
        };
        bad.service_name = "Veil_Server".to_string();
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("`Veil_Server` is not a DNS label"), "{err}");
        bad.service_name = "veil".to_string();
        bad.ports.clear();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn address_detection_finds_a_local_route() {
        let address = detect_address("127.0.0.1", 6443).unwrap();
        assert!(address.is_loopback(), "{address}");
    }
}
