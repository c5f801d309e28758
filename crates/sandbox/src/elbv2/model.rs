//! ELBv2 resources and the helpers other emulated services use (CodeDeploy shifting listener weights,
//! alarms naming `LoadBalancer` / `TargetGroup` dimensions).

use crate::protocol::query::el;

#[derive(Debug, Clone)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    pub dns_name: String,
    pub scheme: String,
    /// `application`, `network` or `gateway`.
    pub lb_type: String,
    pub vpc_id: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub ip_address_type: String,
    pub created: f64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub port: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    pub protocol: Option<String>,
    pub port: Option<u16>,
    pub vpc_id: Option<String>,
    pub target_type: String,
    pub health_check_protocol: String,
    pub health_check_port: String,
    pub health_check_path: Option<String>,
    pub health_check_enabled: bool,
    pub health_check_interval: u32,
    pub health_check_timeout: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub matcher: String,
    pub targets: Vec<Target>,
}

/// A listener's default action. `forward` lists its target groups with weights (a single `TargetGroupArn`
/// is a one-entry list with weight 1, as AWS reports it).
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub kind: String,
    pub order: Option<u32>,
    pub forward: Vec<(String, u32)>,
    /// Whether the client used `TargetGroupArn` (echoed back as such).
    pub single_arn: bool,
}

#[derive(Debug, Clone)]
pub struct Listener {
    pub arn: String,
    pub load_balancer_arn: String,
    pub port: Option<u16>,
    pub protocol: Option<String>,
    pub default_actions: Vec<Action>,
}

/// A listener rule's condition: `path-pattern`, `host-header`, ... and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleCondition {
    pub field: String,
    pub values: Vec<String>,
}

/// A listener rule (not the default one, which is the listener's default actions).
#[derive(Debug, Clone)]
pub struct Rule {
    pub arn: String,
    pub listener_arn: String,
    pub priority: u32,
    pub conditions: Vec<RuleCondition>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Default)]
pub struct ElbState {
    pub load_balancers: Vec<LoadBalancer>,
    pub target_groups: Vec<TargetGroup>,
    pub listeners: Vec<Listener>,
    pub rules: Vec<Rule>,
}

/// `app/<name>/<id>`: the CloudWatch `LoadBalancer` dimension value, the ARN text after `loadbalancer/`
/// (REFERENCE 4.1).
pub fn load_balancer_dimension(arn: &str) -> Option<&str> {
    arn.split_once(":loadbalancer/").map(|(_, rest)| rest)
}

/// `targetgroup/<name>/<id>`: the CloudWatch `TargetGroup` dimension value, the ARN text after the last `:`.
pub fn target_group_dimension(arn: &str) -> Option<&str> {
    arn.rsplit_once(':').map(|(_, rest)| rest).filter(|r| r.starts_with("targetgroup/"))
}

impl ElbState {
    pub fn load_balancer(&self, arn: &str) -> Option<&LoadBalancer> {
        self.load_balancers.iter().find(|l| l.arn == arn)
    }

    pub fn load_balancer_by_name(&self, name: &str) -> Option<&LoadBalancer> {
        self.load_balancers.iter().find(|l| l.name == name)
    }

    pub fn target_group(&self, arn: &str) -> Option<&TargetGroup> {
        self.target_groups.iter().find(|t| t.arn == arn)
    }

    pub fn target_group_by_name(&self, name: &str) -> Option<&TargetGroup> {
        self.target_groups.iter().find(|t| t.name == name)
    }

    pub fn listener(&self, arn: &str) -> Option<&Listener> {
        self.listeners.iter().find(|l| l.arn == arn)
    }

    /// The `(target group ARN, weight)` pairs of a listener's forward action.
    pub fn listener_weights(&self, listener_arn: &str) -> Option<Vec<(String, u32)>> {
        let listener = self.listener(listener_arn)?;
        listener.default_actions.iter().find(|a| a.kind == "forward").map(|a| a.forward.clone())
    }

    /// Replaces the weights of a listener's forward action (what CodeDeploy does when it shifts traffic).
    /// Returns false when the listener has no forward action.
    pub fn set_listener_weights(&mut self, listener_arn: &str, weights: &[(String, u32)]) -> bool {
        let Some(listener) = self.listeners.iter_mut().find(|l| l.arn == listener_arn) else {
            return false;
        };
        match listener.default_actions.iter_mut().find(|a| a.kind == "forward") {
            Some(action) => {
                action.forward = weights.to_vec();
                action.single_arn = false;
                true
            }
            None => false,
        }
    }

    pub fn rule(&self, arn: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.arn == arn)
    }

    /// The forward weights of a listener rule, or of a listener's default action when given a listener ARN
    /// (ECS-native blue/green names either: an ALB rule or an NLB listener, REFERENCE 2.6).
    pub fn forward_weights(&self, rule_or_listener: &str) -> Option<Vec<(String, u32)>> {
        match self.rule(rule_or_listener) {
            Some(r) => r.actions.iter().find(|a| a.kind == "forward").map(|a| a.forward.clone()),
            None => self.listener_weights(rule_or_listener),
        }
    }

    /// Replaces the forward weights of a listener rule or a listener's default action.
    pub fn set_forward_weights(&mut self, rule_or_listener: &str, weights: &[(String, u32)]) -> bool {
        let Some(rule) = self.rules.iter_mut().find(|r| r.arn == rule_or_listener) else {
            return self.set_listener_weights(rule_or_listener, weights);
        };
        match rule.actions.iter_mut().find(|a| a.kind == "forward") {
            Some(action) => {
                action.forward = weights.to_vec();
                action.single_arn = false;
                true
            }
            None => false,
        }
    }

    /// The load balancer a listener rule or listener belongs to.
    pub fn load_balancer_of(&self, rule_or_listener: &str) -> Option<String> {
        let listener = self.rule(rule_or_listener).map_or(rule_or_listener, |r| r.listener_arn.as_str());
        self.listener(listener).map(|l| l.load_balancer_arn.clone())
    }

    /// Listeners that forward to the target group, by a default action or by one of their rules.
    pub fn listeners_of_target_group(&self, tg_arn: &str) -> Vec<&Listener> {
        let forwards = |actions: &[Action]| actions.iter().any(|a| a.forward.iter().any(|(t, _)| t == tg_arn));
        self.listeners
            .iter()
            .filter(|l| {
                forwards(&l.default_actions)
                    || self.rules.iter().any(|r| r.listener_arn == l.arn && forwards(&r.actions))
            })
            .collect()
    }

    /// Load balancers whose listeners forward to the target group, as `TargetGroup.LoadBalancerArns`.
    pub fn load_balancers_of_target_group(&self, tg_arn: &str) -> Vec<String> {
        let mut out: Vec<String> =
            self.listeners_of_target_group(tg_arn).iter().map(|l| l.load_balancer_arn.clone()).collect();
        out.dedup();
        out
    }
}

/// `<Name><member>..</member></Name>` with each item already rendered.
pub fn members(name: &str, items: impl IntoIterator<Item = String>) -> String {
    let inner: String = items.into_iter().map(|i| format!("<member>{i}</member>")).collect();
    format!("<{name}>{inner}</{name}>")
}

/// `<Name><member>text</member>...</Name>` for plain strings.
pub fn string_members(name: &str, items: &[String]) -> String {
    members(name, items.iter().map(|s| crate::protocol::query::esc(s)))
}

impl LoadBalancer {
    pub fn to_xml(&self) -> String {
        let zones: Vec<String> = self
            .subnets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                // Subnets are not modelled: zones are named after their position, enough for a client to list.
                let zone = format!("{}{}", "zone-", (b'a' + (i % 26) as u8) as char);
                format!("{}{}", el("ZoneName", &zone), el("SubnetId", s))
            })
            .collect();
        format!(
            "{}{}{}{}{}{}{}<State>{}</State>{}{}{}{}",
            el("LoadBalancerArn", &self.arn),
            el("DNSName", &self.dns_name),
            el("CanonicalHostedZoneId", "Z35SXDOTRQ7X7K"),
            el("CreatedTime", &iso_z(self.created)),
            el("LoadBalancerName", &self.name),
            el("Scheme", &self.scheme),
            el("VpcId", &self.vpc_id),
            el("Code", "active"),
            el("Type", &self.lb_type),
            members("AvailabilityZones", zones),
            string_members("SecurityGroups", &self.security_groups),
            el("IpAddressType", &self.ip_address_type),
        )
    }
}

impl TargetGroup {
    pub fn to_xml(&self, load_balancer_arns: &[String]) -> String {
        let mut out = String::new();
        out.push_str(&el("TargetGroupArn", &self.arn));
        out.push_str(&el("TargetGroupName", &self.name));
        if let Some(p) = &self.protocol {
            out.push_str(&el("Protocol", p));
        }
        if let Some(p) = self.port {
            out.push_str(&el("Port", &p.to_string()));
        }
        if let Some(v) = &self.vpc_id {
            out.push_str(&el("VpcId", v));
        }
        out.push_str(&el("HealthCheckProtocol", &self.health_check_protocol));
        out.push_str(&el("HealthCheckPort", &self.health_check_port));
        out.push_str(&el("HealthCheckEnabled", &self.health_check_enabled.to_string()));
        out.push_str(&el("HealthCheckIntervalSeconds", &self.health_check_interval.to_string()));
        out.push_str(&el("HealthCheckTimeoutSeconds", &self.health_check_timeout.to_string()));
        out.push_str(&el("HealthyThresholdCount", &self.healthy_threshold.to_string()));
        out.push_str(&el("UnhealthyThresholdCount", &self.unhealthy_threshold.to_string()));
        if let Some(p) = &self.health_check_path {
            out.push_str(&el("HealthCheckPath", p));
        }
        out.push_str(&format!("<Matcher>{}</Matcher>", el("HttpCode", &self.matcher)));
        out.push_str(&string_members("LoadBalancerArns", load_balancer_arns));
        out.push_str(&el("TargetType", &self.target_type));
        if matches!(self.protocol.as_deref(), Some("HTTP" | "HTTPS")) {
            out.push_str(&el("ProtocolVersion", "HTTP1"));
        }
        out.push_str(&el("IpAddressType", "ipv4"));
        out
    }
}

impl Action {
    pub fn to_xml(&self) -> String {
        let mut out = el("Type", &self.kind);
        if let Some(order) = self.order {
            out.push_str(&el("Order", &order.to_string()));
        }
        if self.kind == "forward" {
            if self.single_arn
                && let Some((arn, _)) = self.forward.first()
            {
                out.push_str(&el("TargetGroupArn", arn));
            }
            let tuples = self
                .forward
                .iter()
                .map(|(arn, w)| format!("{}{}", el("TargetGroupArn", arn), el("Weight", &w.to_string())));
            out.push_str(&format!(
                "<ForwardConfig>{}<TargetGroupStickinessConfig>{}</TargetGroupStickinessConfig></ForwardConfig>",
                members("TargetGroups", tuples),
                el("Enabled", "false")
            ));
        }
        out
    }
}

impl Rule {
    pub fn to_xml(&self) -> String {
        Self::xml_of(&self.arn, &self.priority.to_string(), &self.conditions, &self.actions, false)
    }

    pub fn xml_of(
        arn: &str,
        priority: &str,
        conditions: &[RuleCondition],
        actions: &[Action],
        default: bool,
    ) -> String {
        let conditions = conditions.iter().map(|c| {
            let values = string_members("Values", &c.values);
            let config = match c.field.as_str() {
                "path-pattern" => format!("<PathPatternConfig>{values}</PathPatternConfig>"),
                "host-header" => format!("<HostHeaderConfig>{values}</HostHeaderConfig>"),
                _ => String::new(),
            };
            format!("{}{values}{config}", el("Field", &c.field))
        });
        format!(
            "{}{}{}{}{}",
            el("RuleArn", arn),
            el("Priority", priority),
            members("Conditions", conditions),
            members("Actions", actions.iter().map(Action::to_xml)),
            el("IsDefault", &default.to_string())
        )
    }
}

impl Listener {
    pub fn to_xml(&self) -> String {
        let mut out = el("ListenerArn", &self.arn);
        out.push_str(&el("LoadBalancerArn", &self.load_balancer_arn));
        if let Some(p) = self.port {
            out.push_str(&el("Port", &p.to_string()));
        }
        if let Some(p) = &self.protocol {
            out.push_str(&el("Protocol", p));
        }
        out.push_str(&members("DefaultActions", self.default_actions.iter().map(Action::to_xml)));
        out
    }
}

/// `2026-11-22T14:35:00.000Z`, the timestamp format of Query XML responses.
pub fn iso_z(t: f64) -> String {
    let iso = crate::cloudwatch::evaluate::iso_date(t);
    iso.strip_suffix("+0000").map(|s| format!("{s}Z")).unwrap_or(iso)
}
