//! The RegisterTaskDefinition request's shape (REFERENCE 2.1), as the AWS SDK itself describes it: member names and
//! scalar types come from the aws-sdk-ecs schemas (`RegisterTaskDefinitionInput::SCHEMA`, `ContainerDefinition::SCHEMA`,
//! ...), enum values from the SDK's enums (`NetworkMode::values()`). What the schemas do not carry is written here:
//! which structure a nested member is, which string member is an enum, and which members are required (API reference).
//! An SDK update that adds a member is known at once; one that adds a nested structure fails the tests below until it
//! is linked.

// `InferenceAccelerator` is deprecated (Elastic Inference ended) but still a member of the request ECS takes.
#![allow(deprecated)]

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{
    ApplicationProtocol, Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency,
    ContainerRestartPolicy, CpuArchitecture, Device, DeviceCgroupPermission, DockerVolumeConfiguration,
    EfsAuthorizationConfig, EfsAuthorizationConfigIam, EfsTransitEncryption, EfsVolumeConfiguration, EnvironmentFile,
    EnvironmentFileType, EphemeralStorage, FSxWindowsFileServerAuthorizationConfig,
    FSxWindowsFileServerVolumeConfiguration, FirelensConfiguration, FirelensConfigurationType, HealthCheck, HostEntry,
    HostVolumeProperties, InferenceAccelerator, IpcMode, KernelCapabilities, KeyValuePair, LinuxParameters,
    LogConfiguration, LogDriver, MountPoint, NetworkMode, NvidiaMpsAllocation, OsFamily, PidMode, PortMapping,
    ProxyConfiguration, ProxyConfigurationType, RepositoryCredentials, ResourceRequirement, ResourceType,
    RuntimePlatform, S3FilesVolumeConfiguration, Scope, Secret, SharingStrategy, SystemControl, Tag,
    TaskDefinitionPlacementConstraint, TaskDefinitionPlacementConstraintType, Tmpfs, TransportProtocol, Ulimit,
    UlimitName, VersionConsistency, Volume, VolumeFrom,
};
use aws_smithy_schema::{Schema, ShapeType};

/// A structure (or union) of the request, as the SDK's schema describes it.
pub(super) type Struct = &'static Schema<'static>;

/// The request itself.
pub(super) fn request() -> Struct {
    RegisterTaskDefinitionInput::SCHEMA
}

/// What a member (or, for a list, each item) holds beyond its scalar type.
#[derive(Clone, Copy)]
pub(super) enum Link {
    Struct(Struct),
    Enum(&'static [&'static str]),
}

/// `(structure, member)` -> the structure or enum it holds. Structure names are the SDK's shape names.
fn links() -> &'static [(&'static str, &'static str, Link)] {
    use Link::{Enum, Struct as S};
    const INPUT: &str = "RegisterTaskDefinitionInput";
    static LINKS: std::sync::LazyLock<Vec<(&'static str, &'static str, Link)>> = std::sync::LazyLock::new(|| {
        vec![
            (INPUT, "containerDefinitions", S(ContainerDefinition::SCHEMA)),
            (INPUT, "volumes", S(Volume::SCHEMA)),
            (INPUT, "placementConstraints", S(TaskDefinitionPlacementConstraint::SCHEMA)),
            (INPUT, "requiresCompatibilities", Enum(Compatibility::values())),
            (INPUT, "tags", S(Tag::SCHEMA)),
            (INPUT, "networkMode", Enum(NetworkMode::values())),
            (INPUT, "pidMode", Enum(PidMode::values())),
            (INPUT, "ipcMode", Enum(IpcMode::values())),
            (INPUT, "proxyConfiguration", S(ProxyConfiguration::SCHEMA)),
            (INPUT, "inferenceAccelerators", S(InferenceAccelerator::SCHEMA)),
            (INPUT, "ephemeralStorage", S(EphemeralStorage::SCHEMA)),
            (INPUT, "runtimePlatform", S(RuntimePlatform::SCHEMA)),
            ("ContainerDefinition", "repositoryCredentials", S(RepositoryCredentials::SCHEMA)),
            ("ContainerDefinition", "portMappings", S(PortMapping::SCHEMA)),
            ("ContainerDefinition", "restartPolicy", S(ContainerRestartPolicy::SCHEMA)),
            ("ContainerDefinition", "environment", S(KeyValuePair::SCHEMA)),
            ("ContainerDefinition", "environmentFiles", S(EnvironmentFile::SCHEMA)),
            ("ContainerDefinition", "mountPoints", S(MountPoint::SCHEMA)),
            ("ContainerDefinition", "volumesFrom", S(VolumeFrom::SCHEMA)),
            ("ContainerDefinition", "linuxParameters", S(LinuxParameters::SCHEMA)),
            ("ContainerDefinition", "secrets", S(Secret::SCHEMA)),
            ("ContainerDefinition", "dependsOn", S(ContainerDependency::SCHEMA)),
            ("ContainerDefinition", "versionConsistency", Enum(VersionConsistency::values())),
            ("ContainerDefinition", "extraHosts", S(HostEntry::SCHEMA)),
            ("ContainerDefinition", "ulimits", S(Ulimit::SCHEMA)),
            ("ContainerDefinition", "logConfiguration", S(LogConfiguration::SCHEMA)),
            ("ContainerDefinition", "healthCheck", S(HealthCheck::SCHEMA)),
            ("ContainerDefinition", "systemControls", S(SystemControl::SCHEMA)),
            ("ContainerDefinition", "resourceRequirements", S(ResourceRequirement::SCHEMA)),
            ("ContainerDefinition", "firelensConfiguration", S(FirelensConfiguration::SCHEMA)),
            ("PortMapping", "protocol", Enum(TransportProtocol::values())),
            ("PortMapping", "appProtocol", Enum(ApplicationProtocol::values())),
            ("EnvironmentFile", "type", Enum(EnvironmentFileType::values())),
            ("LinuxParameters", "capabilities", S(KernelCapabilities::SCHEMA)),
            ("LinuxParameters", "devices", S(Device::SCHEMA)),
            ("LinuxParameters", "tmpfs", S(Tmpfs::SCHEMA)),
            ("Device", "permissions", Enum(DeviceCgroupPermission::values())),
            ("ContainerDependency", "condition", Enum(ContainerCondition::values())),
            ("Ulimit", "name", Enum(UlimitName::values())),
            ("LogConfiguration", "logDriver", Enum(LogDriver::values())),
            ("LogConfiguration", "secretOptions", S(Secret::SCHEMA)),
            ("FirelensConfiguration", "type", Enum(FirelensConfigurationType::values())),
            ("ResourceRequirement", "type", Enum(ResourceType::values())),
            ("ResourceRequirement", "sharingStrategy", S(SharingStrategy::SCHEMA)),
            ("SharingStrategy", "nvidiaMps", S(NvidiaMpsAllocation::SCHEMA)),
            ("Volume", "host", S(HostVolumeProperties::SCHEMA)),
            ("Volume", "dockerVolumeConfiguration", S(DockerVolumeConfiguration::SCHEMA)),
            ("Volume", "efsVolumeConfiguration", S(EfsVolumeConfiguration::SCHEMA)),
            ("Volume", "s3filesVolumeConfiguration", S(S3FilesVolumeConfiguration::SCHEMA)),
            ("Volume", "fsxWindowsFileServerVolumeConfiguration", S(FSxWindowsFileServerVolumeConfiguration::SCHEMA)),
            ("DockerVolumeConfiguration", "scope", Enum(Scope::values())),
            ("EFSVolumeConfiguration", "transitEncryption", Enum(EfsTransitEncryption::values())),
            ("EFSVolumeConfiguration", "authorizationConfig", S(EfsAuthorizationConfig::SCHEMA)),
            ("EFSAuthorizationConfig", "iam", Enum(EfsAuthorizationConfigIam::values())),
            (
                "FSxWindowsFileServerVolumeConfiguration",
                "authorizationConfig",
                S(FSxWindowsFileServerAuthorizationConfig::SCHEMA),
            ),
            ("TaskDefinitionPlacementConstraint", "type", Enum(TaskDefinitionPlacementConstraintType::values())),
            ("ProxyConfiguration", "type", Enum(ProxyConfigurationType::values())),
            ("ProxyConfiguration", "properties", S(KeyValuePair::SCHEMA)),
            ("RuntimePlatform", "cpuArchitecture", Enum(CpuArchitecture::values())),
            ("RuntimePlatform", "operatingSystemFamily", Enum(OsFamily::values())),
        ]
    });
    &LINKS
}

/// Members ECS requires (the API reference's "Required: Yes"), plus a container's `name` and `image`, without which
/// there is nothing to release.
const REQUIRED: &[(&str, &[&str])] = &[
    ("RegisterTaskDefinitionInput", &["family", "containerDefinitions"]),
    ("ContainerDefinition", &["name", "image"]),
    ("RepositoryCredentials", &["credentialsParameter"]),
    ("ContainerRestartPolicy", &["enabled"]),
    ("EnvironmentFile", &["value", "type"]),
    ("Secret", &["name", "valueFrom"]),
    ("ContainerDependency", &["containerName", "condition"]),
    ("HostEntry", &["hostname", "ipAddress"]),
    ("Ulimit", &["name", "softLimit", "hardLimit"]),
    ("LogConfiguration", &["logDriver"]),
    ("HealthCheck", &["command"]),
    ("ResourceRequirement", &["value", "type"]),
    ("FirelensConfiguration", &["type"]),
    ("Device", &["hostPath"]),
    ("Tmpfs", &["containerPath", "size"]),
    ("EFSVolumeConfiguration", &["fileSystemId"]),
    ("S3FilesVolumeConfiguration", &["fileSystemArn"]),
    ("NvidiaMpsAllocation", &["memory"]),
    ("FSxWindowsFileServerVolumeConfiguration", &["fileSystemId", "rootDirectory", "authorizationConfig"]),
    ("FSxWindowsFileServerAuthorizationConfig", &["credentialsParameter", "domain"]),
    ("ProxyConfiguration", &["containerName"]),
    ("InferenceAccelerator", &["deviceName", "deviceType"]),
    ("EphemeralStorage", &["sizeInGiB"]),
];

/// The structure's name as the SDK's schema has it (`ContainerDefinition`).
pub(super) fn name(s: Struct) -> &'static str {
    s.shape_id().shape_name()
}

/// The member names of a structure, in the SDK's order.
pub(super) fn member_names(s: Struct) -> Vec<&'static str> {
    s.members().iter().filter_map(|m| m.member_name()).collect()
}

/// The schema of member `name` of `s`, if `s` has it.
pub(super) fn member(s: Struct, name: &str) -> Option<&'static Schema<'static>> {
    s.members().iter().copied().find(|m| m.member_name() == Some(name))
}

pub(super) fn link(s: Struct, member: &str) -> Option<Link> {
    let owner = name(s);
    links().iter().find(|(o, m, _)| *o == owner && *m == member).map(|(_, _, l)| *l)
}

pub(super) fn required(s: Struct) -> &'static [&'static str] {
    let owner = name(s);
    REQUIRED.iter().find(|(o, _)| *o == owner).map_or(&[], |(_, r)| r)
}

/// The type of a list's items or a map's values.
pub(super) fn item_type(member: &Schema<'static>) -> Option<ShapeType> {
    member.member_borrowed().map(Schema::shape_type)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use aws_sdk_ecs::types::TaskDefinition;

    use super::super::fields;
    use super::*;

    /// Every structure reachable from the request, each once.
    fn reachable() -> Vec<Struct> {
        let mut seen: Vec<Struct> = Vec::new();
        let mut todo = vec![request()];
        while let Some(s) = todo.pop() {
            if seen.iter().any(|x| name(x) == name(s)) {
                continue;
            }
            seen.push(s);
            for m in member_names(s) {
                if let Some(Link::Struct(child)) = link(s, m) {
                    todo.push(child);
                }
            }
        }
        seen
    }

    #[test]
    fn every_nested_structure_of_the_request_is_linked() {
        for s in reachable() {
            for m in s.members() {
                let composite = |t| matches!(t, Some(ShapeType::Structure | ShapeType::Union));
                let holds_struct =
                    composite(Some(m.shape_type())) || (m.shape_type() == ShapeType::List && composite(item_type(m)));
                let member = m.member_name().unwrap();
                if holds_struct {
                    assert!(
                        matches!(link(s, member), Some(Link::Struct(_))),
                        "{}.{member} holds a structure the shape does not link",
                        name(s)
                    );
                }
            }
        }
    }

    #[test]
    fn links_and_required_members_name_real_members() {
        let structs = reachable();
        for (owner, member, _) in links() {
            let s = structs.iter().find(|s| name(s) == *owner).unwrap_or_else(|| panic!("{owner} is not reachable"));
            assert!(super::member(s, member).is_some(), "{owner}.{member} is not a member");
        }
        for (owner, members) in REQUIRED {
            let s = structs.iter().find(|s| name(s) == *owner).unwrap_or_else(|| panic!("{owner} is not reachable"));
            for m in *members {
                assert!(super::member(s, m).is_some(), "{owner}.{m} is not a member");
            }
        }
    }

    #[test]
    fn the_sdk_refuses_what_the_table_calls_required() {
        // Where the SDK's builder enforces a member, the table must require it too.
        assert!(Secret::builder().build().is_err());
        assert!(LogConfiguration::builder().build().is_err());
        assert!(Ulimit::builder().build().is_err());
        assert!(EnvironmentFile::builder().build().is_err());
        assert!(ResourceRequirement::builder().build().is_err());
        assert!(HealthCheck::builder().build().is_err());
        assert!(Tmpfs::builder().build().is_err());
        assert!(EfsVolumeConfiguration::builder().build().is_err());
        assert!(RegisterTaskDefinitionInput::builder().build().is_ok(), "the SDK leaves family to the service");
    }

    #[test]
    fn the_request_and_container_members_are_the_documented_ones() {
        // REFERENCE 2.1 and fields.rs list the same members as the SDK's schema.
        let request: BTreeSet<&str> = member_names(request()).into_iter().collect();
        assert_eq!(request, fields::REQUEST.iter().copied().collect());
        let container: BTreeSet<&str> = member_names(ContainerDefinition::SCHEMA).into_iter().collect();
        assert_eq!(container, fields::CONTAINER.iter().copied().collect());
    }

    #[test]
    fn read_only_fields_are_the_described_members_the_request_lacks() {
        let request: BTreeSet<&str> = member_names(request()).into_iter().collect();
        let described: BTreeSet<&str> = member_names(TaskDefinition::SCHEMA).into_iter().collect();
        let read_only: BTreeSet<&str> = described.difference(&request).copied().collect();
        // `tags` come next to the description, not in it; DescribeTaskDefinition may add members the request
        // still lacks, and those must be stripped too.
        let known: BTreeSet<&str> = fields::READ_ONLY.iter().copied().collect();
        assert!(read_only.is_subset(&known), "strip these too: {:?}", read_only.difference(&known).collect::<Vec<_>>());
    }
}
