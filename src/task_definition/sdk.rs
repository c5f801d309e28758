//! The task definition between its JSON wire shape and the aws-sdk-ecs types: the request we register, and the
//! described revision we compare against. Both directions map the same fields, so a revision registered from a
//! document describes back to an equal document after `normalize`.

use aws_sdk_ecs::operation::register_task_definition::builders::{
    RegisterTaskDefinitionFluentBuilder, RegisterTaskDefinitionInputBuilder,
};
use aws_sdk_ecs::types::{
    ApplicationProtocol, Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency,
    ContainerRestartPolicy, CpuArchitecture, DockerVolumeConfiguration, EfsAuthorizationConfig,
    EfsAuthorizationConfigIam, EfsTransitEncryption, EfsVolumeConfiguration, EnvironmentFile, EnvironmentFileType,
    EphemeralStorage, FirelensConfiguration, FirelensConfigurationType, HealthCheck, HostEntry, HostVolumeProperties,
    IpcMode, KernelCapabilities, KeyValuePair, LinuxParameters, LogConfiguration, LogDriver, MountPoint, NetworkMode,
    OsFamily, PidMode, PortMapping, RepositoryCredentials, ResourceRequirement, ResourceType, RuntimePlatform, Scope,
    Secret, SystemControl, Tag, TaskDefinition, TaskDefinitionPlacementConstraint,
    TaskDefinitionPlacementConstraintType, Tmpfs, TransportProtocol, Ulimit, UlimitName, VersionConsistency, Volume,
    VolumeFrom,
};
use serde_json::{Map, Value, json};

use super::document::TaskDefinitionDoc;
use super::error::TaskDefinitionError;
use super::sdk_reader::{Reader, built, invalid};

type Result<T> = std::result::Result<T, TaskDefinitionError>;

/// The RegisterTaskDefinition request, ready for `client.register_task_definition()` + `set_*`, or to `build()`;
/// `warnings` name every field of the document that is not sent.
#[derive(Debug)]
pub struct SdkInput {
    pub builder: RegisterTaskDefinitionInputBuilder,
    pub warnings: Vec<String>,
}

impl SdkInput {
    /// The request as `client.register_task_definition()` with every mapped field set; the caller sends it.
    pub fn fluent(self, client: &aws_sdk_ecs::Client) -> Result<RegisterTaskDefinitionFluentBuilder> {
        let i = self.builder.build().map_err(|e| invalid("", &e.to_string()))?;
        Ok(client
            .register_task_definition()
            .set_family(i.family)
            .set_task_role_arn(i.task_role_arn)
            .set_execution_role_arn(i.execution_role_arn)
            .set_network_mode(i.network_mode)
            .set_container_definitions(i.container_definitions)
            .set_volumes(i.volumes)
            .set_placement_constraints(i.placement_constraints)
            .set_requires_compatibilities(i.requires_compatibilities)
            .set_cpu(i.cpu)
            .set_memory(i.memory)
            .set_tags(i.tags)
            .set_pid_mode(i.pid_mode)
            .set_ipc_mode(i.ipc_mode)
            .set_proxy_configuration(i.proxy_configuration)
            .set_ephemeral_storage(i.ephemeral_storage)
            .set_runtime_platform(i.runtime_platform)
            .set_enable_fault_injection(i.enable_fault_injection))
    }
}

impl TaskDefinitionDoc {
    /// Maps the document onto the SDK's RegisterTaskDefinition input. Fields without a mapping here become warnings
    /// ("field X is not sent by this version of pipeline"); a field of the wrong type is an error.
    pub fn to_sdk_input(&self) -> Result<SdkInput> {
        let doc = self.to_register_json();
        let mut warnings = Vec::new();
        let mut td = Reader::new("", &doc)?;
        let mut b = RegisterTaskDefinitionInputBuilder::default()
            .set_family(td.string("family")?)
            .set_task_role_arn(td.string("taskRoleArn")?)
            .set_execution_role_arn(td.string("executionRoleArn")?)
            .set_network_mode(td.string("networkMode")?.map(|s| NetworkMode::from(s.as_str())))
            .set_requires_compatibilities(
                td.strings("requiresCompatibilities")?
                    .map(|l| l.iter().map(|s| Compatibility::from(s.as_str())).collect()),
            )
            .set_cpu(td.string("cpu")?)
            .set_memory(td.string("memory")?)
            .set_pid_mode(td.string("pidMode")?.map(|s| PidMode::from(s.as_str())))
            .set_ipc_mode(td.string("ipcMode")?.map(|s| IpcMode::from(s.as_str())))
            .set_enable_fault_injection(td.bool("enableFaultInjection")?);

        for mut c in td.objects("containerDefinitions")?.unwrap_or_default() {
            b = b.container_definitions(container_to_sdk(&mut c, &mut warnings)?);
            c.finish(&mut warnings);
        }
        for mut v in td.objects("volumes")?.unwrap_or_default() {
            b = b.volumes(volume_to_sdk(&mut v, &mut warnings)?);
            v.finish(&mut warnings);
        }
        for mut p in td.objects("placementConstraints")?.unwrap_or_default() {
            b = b.placement_constraints(
                TaskDefinitionPlacementConstraint::builder()
                    .set_type(p.string("type")?.map(|s| TaskDefinitionPlacementConstraintType::from(s.as_str())))
                    .set_expression(p.string("expression")?)
                    .build(),
            );
            p.finish(&mut warnings);
        }
        if let Some(mut e) = td.object("ephemeralStorage")? {
            let size = e.int("sizeInGiB")?.unwrap_or_default();
            b = b.ephemeral_storage(EphemeralStorage::builder().size_in_gib(size).build());
            e.finish(&mut warnings);
        }
        if let Some(mut r) = td.object("runtimePlatform")? {
            b = b.runtime_platform(
                RuntimePlatform::builder()
                    .set_cpu_architecture(r.string("cpuArchitecture")?.map(|s| CpuArchitecture::from(s.as_str())))
                    .set_operating_system_family(r.string("operatingSystemFamily")?.map(|s| OsFamily::from(s.as_str())))
                    .build(),
            );
            r.finish(&mut warnings);
        }
        for mut t in td.objects("tags")?.unwrap_or_default() {
            b = b.tags(Tag::builder().set_key(t.string("key")?).set_value(t.string("value")?).build());
            t.finish(&mut warnings);
        }
        td.finish(&mut warnings);
        Ok(SdkInput { builder: b, warnings })
    }
}

fn container_to_sdk(c: &mut Reader<'_>, warnings: &mut Vec<String>) -> Result<ContainerDefinition> {
    let mut b = ContainerDefinition::builder()
        .set_name(c.string("name")?)
        .set_image(c.string("image")?)
        .set_cpu(c.int("cpu")?)
        .set_memory(c.int("memory")?)
        .set_memory_reservation(c.int("memoryReservation")?)
        .set_links(c.strings("links")?)
        .set_essential(c.bool("essential")?)
        .set_entry_point(c.strings("entryPoint")?)
        .set_command(c.strings("command")?)
        .set_start_timeout(c.int("startTimeout")?)
        .set_stop_timeout(c.int("stopTimeout")?)
        .set_version_consistency(c.string("versionConsistency")?.map(|s| VersionConsistency::from(s.as_str())))
        .set_hostname(c.string("hostname")?)
        .set_user(c.string("user")?)
        .set_working_directory(c.string("workingDirectory")?)
        .set_disable_networking(c.bool("disableNetworking")?)
        .set_privileged(c.bool("privileged")?)
        .set_readonly_root_filesystem(c.bool("readonlyRootFilesystem")?)
        .set_dns_servers(c.strings("dnsServers")?)
        .set_dns_search_domains(c.strings("dnsSearchDomains")?)
        .set_docker_security_options(c.strings("dockerSecurityOptions")?)
        .set_interactive(c.bool("interactive")?)
        .set_pseudo_terminal(c.bool("pseudoTerminal")?)
        .set_docker_labels(c.string_map("dockerLabels")?)
        .set_credential_specs(c.strings("credentialSpecs")?);

    if let Some(mut r) = c.object("repositoryCredentials")? {
        let creds = RepositoryCredentials::builder().set_credentials_parameter(r.string("credentialsParameter")?);
        b = b.repository_credentials(built(r.path(), creds.build())?);
        r.finish(warnings);
    }
    for mut p in c.objects("portMappings")?.unwrap_or_default() {
        b = b.port_mappings(
            PortMapping::builder()
                .set_container_port(p.int("containerPort")?)
                .set_host_port(p.int("hostPort")?)
                .set_protocol(p.string("protocol")?.map(|s| TransportProtocol::from(s.as_str())))
                .set_name(p.string("name")?)
                .set_app_protocol(p.string("appProtocol")?.map(|s| ApplicationProtocol::from(s.as_str())))
                .set_container_port_range(p.string("containerPortRange")?)
                .build(),
        );
        p.finish(warnings);
    }
    if let Some(mut r) = c.object("restartPolicy")? {
        let policy = ContainerRestartPolicy::builder()
            .set_enabled(r.bool("enabled")?)
            .set_ignored_exit_codes(r.ints("ignoredExitCodes")?)
            .set_restart_attempt_period(r.int("restartAttemptPeriod")?);
        b = b.restart_policy(built(r.path(), policy.build())?);
        r.finish(warnings);
    }
    for mut e in c.objects("environment")?.unwrap_or_default() {
        b = b.environment(KeyValuePair::builder().set_name(e.string("name")?).set_value(e.string("value")?).build());
        e.finish(warnings);
    }
    for mut f in c.objects("environmentFiles")?.unwrap_or_default() {
        let file = EnvironmentFile::builder()
            .set_value(f.string("value")?)
            .set_type(f.string("type")?.map(|s| EnvironmentFileType::from(s.as_str())));
        b = b.environment_files(built(f.path(), file.build())?);
        f.finish(warnings);
    }
    for mut m in c.objects("mountPoints")?.unwrap_or_default() {
        b = b.mount_points(
            MountPoint::builder()
                .set_source_volume(m.string("sourceVolume")?)
                .set_container_path(m.string("containerPath")?)
                .set_read_only(m.bool("readOnly")?)
                .build(),
        );
        m.finish(warnings);
    }
    for mut v in c.objects("volumesFrom")?.unwrap_or_default() {
        b = b.volumes_from(
            VolumeFrom::builder()
                .set_source_container(v.string("sourceContainer")?)
                .set_read_only(v.bool("readOnly")?)
                .build(),
        );
        v.finish(warnings);
    }
    if let Some(mut l) = c.object("linuxParameters")? {
        b = b.linux_parameters(linux_parameters_to_sdk(&mut l, warnings)?);
        l.finish(warnings);
    }
    for mut s in c.objects("secrets")?.unwrap_or_default() {
        b = b.secrets(secret_to_sdk(&mut s)?);
        s.finish(warnings);
    }
    for mut d in c.objects("dependsOn")?.unwrap_or_default() {
        let dep = ContainerDependency::builder()
            .set_container_name(d.string("containerName")?)
            .set_condition(d.string("condition")?.map(|s| ContainerCondition::from(s.as_str())));
        b = b.depends_on(built(d.path(), dep.build())?);
        d.finish(warnings);
    }
    for mut h in c.objects("extraHosts")?.unwrap_or_default() {
        let host = HostEntry::builder().set_hostname(h.string("hostname")?).set_ip_address(h.string("ipAddress")?);
        b = b.extra_hosts(built(h.path(), host.build())?);
        h.finish(warnings);
    }
    for mut u in c.objects("ulimits")?.unwrap_or_default() {
        let ulimit = Ulimit::builder()
            .set_name(u.string("name")?.map(|s| UlimitName::from(s.as_str())))
            .set_soft_limit(u.int("softLimit")?)
            .set_hard_limit(u.int("hardLimit")?);
        b = b.ulimits(built(u.path(), ulimit.build())?);
        u.finish(warnings);
    }
    if let Some(mut l) = c.object("logConfiguration")? {
        let mut log = LogConfiguration::builder()
            .set_log_driver(l.string("logDriver")?.map(|s| LogDriver::from(s.as_str())))
            .set_options(l.string_map("options")?);
        for mut s in l.objects("secretOptions")?.unwrap_or_default() {
            log = log.secret_options(secret_to_sdk(&mut s)?);
            s.finish(warnings);
        }
        b = b.log_configuration(built(l.path(), log.build())?);
        l.finish(warnings);
    }
    if let Some(mut h) = c.object("healthCheck")? {
        let check = HealthCheck::builder()
            .set_command(h.strings("command")?)
            .set_interval(h.int("interval")?)
            .set_timeout(h.int("timeout")?)
            .set_retries(h.int("retries")?)
            .set_start_period(h.int("startPeriod")?);
        b = b.health_check(built(h.path(), check.build())?);
        h.finish(warnings);
    }
    for mut s in c.objects("systemControls")?.unwrap_or_default() {
        b = b.system_controls(
            SystemControl::builder().set_namespace(s.string("namespace")?).set_value(s.string("value")?).build(),
        );
        s.finish(warnings);
    }
    for mut r in c.objects("resourceRequirements")?.unwrap_or_default() {
        let req = ResourceRequirement::builder()
            .set_value(r.string("value")?)
            .set_type(r.string("type")?.map(|s| ResourceType::from(s.as_str())));
        b = b.resource_requirements(built(r.path(), req.build())?);
        r.finish(warnings);
    }
    if let Some(mut f) = c.object("firelensConfiguration")? {
        let firelens = FirelensConfiguration::builder()
            .set_type(f.string("type")?.map(|s| FirelensConfigurationType::from(s.as_str())))
            .set_options(f.string_map("options")?);
        b = b.firelens_configuration(built(f.path(), firelens.build())?);
        f.finish(warnings);
    }
    Ok(b.build())
}

fn secret_to_sdk(s: &mut Reader<'_>) -> Result<Secret> {
    let secret = Secret::builder().set_name(s.string("name")?).set_value_from(s.string("valueFrom")?);
    built(s.path(), secret.build())
}

fn linux_parameters_to_sdk(l: &mut Reader<'_>, warnings: &mut Vec<String>) -> Result<LinuxParameters> {
    let mut b = LinuxParameters::builder()
        .set_init_process_enabled(l.bool("initProcessEnabled")?)
        .set_shared_memory_size(l.int("sharedMemorySize")?)
        .set_max_swap(l.int("maxSwap")?)
        .set_swappiness(l.int("swappiness")?);
    if let Some(mut k) = l.object("capabilities")? {
        b = b.capabilities(
            KernelCapabilities::builder().set_add(k.strings("add")?).set_drop(k.strings("drop")?).build(),
        );
        k.finish(warnings);
    }
    for mut t in l.objects("tmpfs")?.unwrap_or_default() {
        let tmpfs = Tmpfs::builder()
            .set_container_path(t.string("containerPath")?)
            .set_size(t.int("size")?)
            .set_mount_options(t.strings("mountOptions")?);
        b = b.tmpfs(built(t.path(), tmpfs.build())?);
        t.finish(warnings);
    }
    Ok(b.build())
}

fn volume_to_sdk(v: &mut Reader<'_>, warnings: &mut Vec<String>) -> Result<Volume> {
    let mut b = Volume::builder().set_name(v.string("name")?).set_configured_at_launch(v.bool("configuredAtLaunch")?);
    if let Some(mut h) = v.object("host")? {
        b = b.host(HostVolumeProperties::builder().set_source_path(h.string("sourcePath")?).build());
        h.finish(warnings);
    }
    if let Some(mut d) = v.object("dockerVolumeConfiguration")? {
        b = b.docker_volume_configuration(
            DockerVolumeConfiguration::builder()
                .set_scope(d.string("scope")?.map(|s| Scope::from(s.as_str())))
                .set_autoprovision(d.bool("autoprovision")?)
                .set_driver(d.string("driver")?)
                .set_driver_opts(d.string_map("driverOpts")?)
                .set_labels(d.string_map("labels")?)
                .build(),
        );
        d.finish(warnings);
    }
    if let Some(mut e) = v.object("efsVolumeConfiguration")? {
        let mut efs = EfsVolumeConfiguration::builder()
            .set_file_system_id(e.string("fileSystemId")?)
            .set_root_directory(e.string("rootDirectory")?)
            .set_transit_encryption(e.string("transitEncryption")?.map(|s| EfsTransitEncryption::from(s.as_str())))
            .set_transit_encryption_port(e.int("transitEncryptionPort")?);
        if let Some(mut a) = e.object("authorizationConfig")? {
            efs = efs.authorization_config(
                EfsAuthorizationConfig::builder()
                    .set_access_point_id(a.string("accessPointId")?)
                    .set_iam(a.string("iam")?.map(|s| EfsAuthorizationConfigIam::from(s.as_str())))
                    .build(),
            );
            a.finish(warnings);
        }
        b = b.efs_volume_configuration(built(e.path(), efs.build())?);
        e.finish(warnings);
    }
    Ok(b.build())
}

/// The described revision in the JSON wire shape, with the same fields [`TaskDefinitionDoc::to_sdk_input`] sends,
/// so [`super::normalize`] can compare it with the rendered file. Read-only members are left out; tags come
/// separately from DescribeTaskDefinition and are not part of it.
pub fn from_sdk(td: &TaskDefinition) -> Value {
    let mut m = Map::new();
    put(&mut m, "family", td.family.as_deref());
    put(&mut m, "taskRoleArn", td.task_role_arn.as_deref());
    put(&mut m, "executionRoleArn", td.execution_role_arn.as_deref());
    put(&mut m, "networkMode", td.network_mode.as_ref().map(NetworkMode::as_str));
    put_list(&mut m, "containerDefinitions", td.container_definitions.as_deref(), container_from_sdk);
    put_list(&mut m, "volumes", td.volumes.as_deref(), volume_from_sdk);
    put_list(&mut m, "placementConstraints", td.placement_constraints.as_deref(), |p| {
        let mut o = Map::new();
        put(&mut o, "type", p.r#type.as_ref().map(|t| t.as_str()));
        put(&mut o, "expression", p.expression.as_deref());
        Value::Object(o)
    });
    put(
        &mut m,
        "requiresCompatibilities",
        td.requires_compatibilities.as_ref().map(|l| strs(l.iter().map(Compatibility::as_str))),
    );
    put(&mut m, "cpu", td.cpu.as_deref());
    put(&mut m, "memory", td.memory.as_deref());
    put(&mut m, "pidMode", td.pid_mode.as_ref().map(PidMode::as_str));
    put(&mut m, "ipcMode", td.ipc_mode.as_ref().map(IpcMode::as_str));
    put(&mut m, "ephemeralStorage", td.ephemeral_storage.as_ref().map(|e| json!({"sizeInGiB": e.size_in_gib})));
    if let Some(r) = &td.runtime_platform {
        let mut o = Map::new();
        put(&mut o, "cpuArchitecture", r.cpu_architecture.as_ref().map(CpuArchitecture::as_str));
        put(&mut o, "operatingSystemFamily", r.operating_system_family.as_ref().map(OsFamily::as_str));
        m.insert("runtimePlatform".to_owned(), Value::Object(o));
    }
    put(&mut m, "enableFaultInjection", td.enable_fault_injection);
    Value::Object(m)
}

/// `[{key, value}]` as RegisterTaskDefinition and the doc take them, from DescribeTaskDefinition's `tags`.
pub fn tags_from_sdk(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| {
                let mut o = Map::new();
                put(&mut o, "key", t.key.as_deref());
                put(&mut o, "value", t.value.as_deref());
                Value::Object(o)
            })
            .collect(),
    )
}

fn container_from_sdk(c: &ContainerDefinition) -> Value {
    let mut m = Map::new();
    put(&mut m, "name", c.name.as_deref());
    put(&mut m, "image", c.image.as_deref());
    put(
        &mut m,
        "repositoryCredentials",
        c.repository_credentials.as_ref().map(|r| json!({"credentialsParameter": r.credentials_parameter})),
    );
    put(&mut m, "cpu", Some(c.cpu));
    put(&mut m, "memory", c.memory);
    put(&mut m, "memoryReservation", c.memory_reservation);
    put(&mut m, "links", c.links.as_ref().map(|l| strs(l.iter())));
    put_list(&mut m, "portMappings", c.port_mappings.as_deref(), |p| {
        let mut o = Map::new();
        put(&mut o, "containerPort", p.container_port);
        put(&mut o, "hostPort", p.host_port);
        put(&mut o, "protocol", p.protocol.as_ref().map(TransportProtocol::as_str));
        put(&mut o, "name", p.name.as_deref());
        put(&mut o, "appProtocol", p.app_protocol.as_ref().map(ApplicationProtocol::as_str));
        put(&mut o, "containerPortRange", p.container_port_range.as_deref());
        Value::Object(o)
    });
    put(&mut m, "essential", c.essential);
    if let Some(r) = &c.restart_policy {
        let mut o = Map::new();
        put(&mut o, "enabled", Some(r.enabled));
        put(&mut o, "ignoredExitCodes", r.ignored_exit_codes.clone());
        put(&mut o, "restartAttemptPeriod", r.restart_attempt_period);
        m.insert("restartPolicy".to_owned(), Value::Object(o));
    }
    put(&mut m, "entryPoint", c.entry_point.as_ref().map(|l| strs(l.iter())));
    put(&mut m, "command", c.command.as_ref().map(|l| strs(l.iter())));
    put_list(&mut m, "environment", c.environment.as_deref(), |e| {
        let mut o = Map::new();
        put(&mut o, "name", e.name.as_deref());
        put(&mut o, "value", e.value.as_deref());
        Value::Object(o)
    });
    put_list(
        &mut m,
        "environmentFiles",
        c.environment_files.as_deref(),
        |f| json!({"value": f.value, "type": f.r#type.as_str()}),
    );
    put_list(&mut m, "mountPoints", c.mount_points.as_deref(), |p| {
        let mut o = Map::new();
        put(&mut o, "sourceVolume", p.source_volume.as_deref());
        put(&mut o, "containerPath", p.container_path.as_deref());
        put(&mut o, "readOnly", p.read_only);
        Value::Object(o)
    });
    put_list(&mut m, "volumesFrom", c.volumes_from.as_deref(), |v| {
        let mut o = Map::new();
        put(&mut o, "sourceContainer", v.source_container.as_deref());
        put(&mut o, "readOnly", v.read_only);
        Value::Object(o)
    });
    if let Some(l) = &c.linux_parameters {
        m.insert("linuxParameters".to_owned(), linux_parameters_from_sdk(l));
    }
    put_list(&mut m, "secrets", c.secrets.as_deref(), secret_from_sdk);
    put_list(
        &mut m,
        "dependsOn",
        c.depends_on.as_deref(),
        |d| json!({"containerName": d.container_name, "condition": d.condition.as_str()}),
    );
    put(&mut m, "startTimeout", c.start_timeout);
    put(&mut m, "stopTimeout", c.stop_timeout);
    put(&mut m, "versionConsistency", c.version_consistency.as_ref().map(VersionConsistency::as_str));
    put(&mut m, "hostname", c.hostname.as_deref());
    put(&mut m, "user", c.user.as_deref());
    put(&mut m, "workingDirectory", c.working_directory.as_deref());
    put(&mut m, "disableNetworking", c.disable_networking);
    put(&mut m, "privileged", c.privileged);
    put(&mut m, "readonlyRootFilesystem", c.readonly_root_filesystem);
    put(&mut m, "dnsServers", c.dns_servers.as_ref().map(|l| strs(l.iter())));
    put(&mut m, "dnsSearchDomains", c.dns_search_domains.as_ref().map(|l| strs(l.iter())));
    put_list(
        &mut m,
        "extraHosts",
        c.extra_hosts.as_deref(),
        |h| json!({"hostname": h.hostname, "ipAddress": h.ip_address}),
    );
    put(&mut m, "dockerSecurityOptions", c.docker_security_options.as_ref().map(|l| strs(l.iter())));
    put(&mut m, "interactive", c.interactive);
    put(&mut m, "pseudoTerminal", c.pseudo_terminal);
    put(&mut m, "dockerLabels", c.docker_labels.as_ref().map(string_map));
    put_list(
        &mut m,
        "ulimits",
        c.ulimits.as_deref(),
        |u| json!({"name": u.name.as_str(), "softLimit": u.soft_limit, "hardLimit": u.hard_limit}),
    );
    if let Some(l) = &c.log_configuration {
        let mut o = Map::new();
        put(&mut o, "logDriver", Some(l.log_driver.as_str()));
        put(&mut o, "options", l.options.as_ref().map(string_map));
        put_list(&mut o, "secretOptions", l.secret_options.as_deref(), secret_from_sdk);
        m.insert("logConfiguration".to_owned(), Value::Object(o));
    }
    if let Some(h) = &c.health_check {
        let mut o = Map::new();
        put(&mut o, "command", Some(strs(h.command.iter())));
        put(&mut o, "interval", h.interval);
        put(&mut o, "timeout", h.timeout);
        put(&mut o, "retries", h.retries);
        put(&mut o, "startPeriod", h.start_period);
        m.insert("healthCheck".to_owned(), Value::Object(o));
    }
    put_list(&mut m, "systemControls", c.system_controls.as_deref(), |s| {
        let mut o = Map::new();
        put(&mut o, "namespace", s.namespace.as_deref());
        put(&mut o, "value", s.value.as_deref());
        Value::Object(o)
    });
    put_list(&mut m, "resourceRequirements", c.resource_requirements.as_deref(), |r| {
        let mut o = Map::new();
        put(&mut o, "value", Some(r.value.as_str()));
        put(&mut o, "type", Some(r.r#type.as_str()));
        Value::Object(o)
    });
    if let Some(f) = &c.firelens_configuration {
        let mut o = Map::new();
        put(&mut o, "type", Some(f.r#type.as_str()));
        put(&mut o, "options", f.options.as_ref().map(string_map));
        m.insert("firelensConfiguration".to_owned(), Value::Object(o));
    }
    put(&mut m, "credentialSpecs", c.credential_specs.as_ref().map(|l| strs(l.iter())));
    Value::Object(m)
}

fn secret_from_sdk(s: &Secret) -> Value {
    json!({"name": s.name, "valueFrom": s.value_from})
}

fn linux_parameters_from_sdk(l: &LinuxParameters) -> Value {
    let mut o = Map::new();
    if let Some(k) = &l.capabilities {
        let mut caps = Map::new();
        put(&mut caps, "add", k.add.as_ref().map(|l| strs(l.iter())));
        put(&mut caps, "drop", k.drop.as_ref().map(|l| strs(l.iter())));
        o.insert("capabilities".to_owned(), Value::Object(caps));
    }
    put(&mut o, "initProcessEnabled", l.init_process_enabled);
    put(&mut o, "sharedMemorySize", l.shared_memory_size);
    put_list(&mut o, "tmpfs", l.tmpfs.as_deref(), |t| {
        let mut m = Map::new();
        put(&mut m, "containerPath", Some(t.container_path.as_str()));
        put(&mut m, "size", Some(t.size));
        put(&mut m, "mountOptions", t.mount_options.as_ref().map(|l| strs(l.iter())));
        Value::Object(m)
    });
    put(&mut o, "maxSwap", l.max_swap);
    put(&mut o, "swappiness", l.swappiness);
    Value::Object(o)
}

fn volume_from_sdk(v: &Volume) -> Value {
    let mut o = Map::new();
    put(&mut o, "name", v.name.as_deref());
    if let Some(h) = &v.host {
        let mut host = Map::new();
        put(&mut host, "sourcePath", h.source_path.as_deref());
        o.insert("host".to_owned(), Value::Object(host));
    }
    if let Some(d) = &v.docker_volume_configuration {
        let mut m = Map::new();
        put(&mut m, "scope", d.scope.as_ref().map(Scope::as_str));
        put(&mut m, "autoprovision", d.autoprovision);
        put(&mut m, "driver", d.driver.as_deref());
        put(&mut m, "driverOpts", d.driver_opts.as_ref().map(string_map));
        put(&mut m, "labels", d.labels.as_ref().map(string_map));
        o.insert("dockerVolumeConfiguration".to_owned(), Value::Object(m));
    }
    if let Some(e) = &v.efs_volume_configuration {
        let mut m = Map::new();
        put(&mut m, "fileSystemId", Some(e.file_system_id.as_str()));
        put(&mut m, "rootDirectory", e.root_directory.as_deref());
        put(&mut m, "transitEncryption", e.transit_encryption.as_ref().map(EfsTransitEncryption::as_str));
        put(&mut m, "transitEncryptionPort", e.transit_encryption_port);
        if let Some(a) = &e.authorization_config {
            let mut auth = Map::new();
            put(&mut auth, "accessPointId", a.access_point_id.as_deref());
            put(&mut auth, "iam", a.iam.as_ref().map(EfsAuthorizationConfigIam::as_str));
            m.insert("authorizationConfig".to_owned(), Value::Object(auth));
        }
        o.insert("efsVolumeConfiguration".to_owned(), Value::Object(m));
    }
    put(&mut o, "configuredAtLaunch", v.configured_at_launch);
    Value::Object(o)
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v.into());
    }
}

fn put_list<T>(map: &mut Map<String, Value>, key: &str, items: Option<&[T]>, f: impl Fn(&T) -> Value) {
    if let Some(items) = items {
        map.insert(key.to_owned(), Value::Array(items.iter().map(f).collect()));
    }
}

fn strs<S: AsRef<str>>(items: impl Iterator<Item = S>) -> Value {
    Value::Array(items.map(|s| Value::String(s.as_ref().to_owned())).collect())
}

fn string_map(map: &std::collections::HashMap<String, String>) -> Value {
    // HashMap order is random; sort so the output (and any snapshot of it) is stable.
    let sorted: std::collections::BTreeMap<&String, &String> = map.iter().collect();
    Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
    use serde_json::json;

    use super::super::document::Format;
    use super::super::fixtures::{described_json, rendered_doc};
    use super::super::normalize;
    use super::*;

    /// What DescribeTaskDefinition would return for the registered input (the SDK's view of it).
    fn as_described(input: RegisterTaskDefinitionInput) -> TaskDefinition {
        TaskDefinition::builder()
            .set_family(input.family)
            .set_task_role_arn(input.task_role_arn)
            .set_execution_role_arn(input.execution_role_arn)
            .set_network_mode(input.network_mode)
            .set_container_definitions(input.container_definitions)
            .set_volumes(input.volumes)
            .set_placement_constraints(input.placement_constraints)
            .set_requires_compatibilities(input.requires_compatibilities)
            .set_cpu(input.cpu)
            .set_memory(input.memory)
            .set_pid_mode(input.pid_mode)
            .set_ipc_mode(input.ipc_mode)
            .set_ephemeral_storage(input.ephemeral_storage)
            .set_runtime_platform(input.runtime_platform)
            .set_enable_fault_injection(input.enable_fault_injection)
            .revision(3)
            .build()
    }

    fn round_trip(doc: &TaskDefinitionDoc) -> (Value, Vec<String>) {
        let SdkInput { builder, warnings } = doc.to_sdk_input().unwrap();
        (from_sdk(&as_described(builder.build().unwrap())), warnings)
    }

    fn kitchen_sink() -> TaskDefinitionDoc {
        let text = r#"{
            "family": "everything",
            "taskRoleArn": "arn:aws:iam::111122223333:role/task",
            "executionRoleArn": "arn:aws:iam::111122223333:role/exec",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE", "EC2"],
            "cpu": 1024,
            "memory": "2 GB",
            "pidMode": "task",
            "ipcMode": "none",
            "enableFaultInjection": true,
            "ephemeralStorage": {"sizeInGiB": 30},
            "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.az in [eu-west-1a]"}],
            "volumes": [
                {"name": "scratch", "host": {"sourcePath": "/tmp/scratch"}},
                {"name": "cache", "dockerVolumeConfiguration": {"scope": "task", "driver": "local", "driverOpts": {"type": "tmpfs"}, "labels": {"a": "b"}}},
                {"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "fs-12345678", "rootDirectory": "/", "transitEncryption": "ENABLED", "transitEncryptionPort": 2049, "authorizationConfig": {"accessPointId": "fsap-1", "iam": "ENABLED"}}}
            ],
            "tags": [{"key": "team", "value": "web"}],
            "containerDefinitions": [{
                "name": "app",
                "image": "example/app@sha256:abcd",
                "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:creds"},
                "cpu": 512,
                "memory": 1024,
                "memoryReservation": 512,
                "links": ["db"],
                "portMappings": [
                    {"containerPort": 8080, "hostPort": 8080, "protocol": "tcp", "name": "http", "appProtocol": "http"},
                    {"containerPortRange": "9000-9100", "protocol": "udp"}
                ],
                "essential": true,
                "restartPolicy": {"enabled": true, "ignoredExitCodes": [0, 2], "restartAttemptPeriod": 60},
                "entryPoint": ["/bin/app"],
                "command": ["serve", "--port", "8080"],
                "environment": [{"name": "A", "value": "1"}, {"name": "EMPTY", "value": ""}],
                "environmentFiles": [{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}],
                "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch", "readOnly": false}],
                "volumesFrom": [{"sourceContainer": "side", "readOnly": true}],
                "linuxParameters": {"capabilities": {"add": ["SYS_PTRACE"], "drop": ["NET_RAW"]}, "initProcessEnabled": true, "sharedMemorySize": 64, "tmpfs": [{"containerPath": "/run", "size": 16, "mountOptions": ["noexec"]}], "maxSwap": 0, "swappiness": 10},
                "secrets": [{"name": "S", "valueFrom": "arn:aws:ssm:eu-west-1:111122223333:parameter/s"}],
                "dependsOn": [{"containerName": "side", "condition": "START"}],
                "startTimeout": 30,
                "stopTimeout": 20,
                "versionConsistency": "disabled",
                "hostname": "app",
                "user": "1000:1000",
                "workingDirectory": "/srv",
                "disableNetworking": false,
                "privileged": true,
                "readonlyRootFilesystem": true,
                "dnsServers": ["10.0.0.2"],
                "dnsSearchDomains": ["internal"],
                "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.5"}],
                "dockerSecurityOptions": ["no-new-privileges"],
                "interactive": true,
                "pseudoTerminal": true,
                "dockerLabels": {"com.example": "x"},
                "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
                "logConfiguration": {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}, "secretOptions": [{"name": "K", "valueFrom": "arn:k"}]},
                "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 10, "timeout": 2, "retries": 5, "startPeriod": 15},
                "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
                "resourceRequirements": [{"value": "1", "type": "GPU"}],
                "firelensConfiguration": {"type": "fluentbit", "options": {"enable-ecs-log-metadata": "true"}},
                "credentialSpecs": ["credentialspecdomainless:arn:aws:s3:::bucket/spec.json"]
            }, {"name": "side", "image": "busybox"}]
        }"#;
        TaskDefinitionDoc::parse(text, "everything.json", Format::Json).unwrap().doc
    }

    #[test]
    fn every_mapped_field_round_trips_through_the_sdk_types() {
        let doc = kitchen_sink();
        let (back, warnings) = round_trip(&doc);
        assert!(warnings.is_empty(), "{warnings:?}");
        let (a, b) = (normalize(&doc.to_register_json()), normalize(&back));
        assert_eq!(a, b, "{a:#}\n!=\n{b:#}");
    }

    #[test]
    fn the_release_fixture_round_trips_and_matches_the_described_revision() {
        let (back, warnings) = round_trip(&rendered_doc());
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(normalize(&back), normalize(&described_json()));
    }

    #[test]
    fn tags_are_sent_and_read_back() {
        let input = kitchen_sink().to_sdk_input().unwrap().builder.build().unwrap();
        let tags = input.tags.unwrap_or_default();
        assert_eq!(tags_from_sdk(&tags), json!([{"key": "team", "value": "web"}]));
    }

    #[test]
    fn fields_without_a_mapping_are_reported_not_dropped_silently() {
        let value = json!({
            "family": "f",
            "proxyConfiguration": {"containerName": "envoy", "type": "APPMESH"},
            "volumes": [{"name": "w", "fsxWindowsFileServerVolumeConfiguration": {"fileSystemId": "fs-1"}}],
            "containerDefinitions": [{
                "name": "a", "image": "i", "futureKnob": 1,
                "linuxParameters": {"initProcessEnabled": true, "devices": [{"hostPath": "/dev/fuse"}]},
                "portMappings": [{"containerPort": 80, "newPortThing": "x"}]
            }]
        });
        // Loading refuses unknown fields now; the mapping must still never drop one silently.
        let doc = TaskDefinitionDoc::unchecked(value);
        let mut warnings = doc.to_sdk_input().unwrap().warnings;
        warnings.sort();
        assert_eq!(
            warnings,
            vec![
                "field `containerDefinitions[0].futureKnob` is not sent by this version of pipeline",
                "field `containerDefinitions[0].linuxParameters.devices` is not sent by this version of pipeline",
                "field `containerDefinitions[0].portMappings[0].newPortThing` is not sent by this version of pipeline",
                "field `proxyConfiguration` is not sent by this version of pipeline",
                "field `volumes[0].fsxWindowsFileServerVolumeConfiguration` is not sent by this version of pipeline",
            ]
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_is_an_error_naming_it() {
        let value = json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "memory": "lots"}]});
        let doc = TaskDefinitionDoc::unchecked(value);
        let err = doc.to_sdk_input().unwrap_err();
        assert_eq!(
            err.to_string(),
            "task definition field `containerDefinitions[0].memory` is invalid: expected an integer"
        );
    }

    #[test]
    fn a_missing_required_member_is_an_error_naming_it() {
        let value =
            json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "secrets": [{"name": "S"}]}]});
        let doc = TaskDefinitionDoc::unchecked(value);
        let err = doc.to_sdk_input().unwrap_err().to_string();
        assert!(err.starts_with("task definition field `containerDefinitions[0].secrets[0]` is invalid"), "{err}");
    }
}
