//! [`Snapshot`]: the immutable configuration the use cases read (compiled routing table,
//! workspaces, providers with their field maps, schedules, zones, caps, inbound webhooks),
//! swapped as a whole when configuration changes.

use super::EngineConfig;
use crate::capacity::{Capacity, Zone};
use crate::catalog::Catalog;
use crate::intake::FieldMap;
use crate::model::{Provider, WebhookConfig, Workspace};
use crate::routing::{RoutingRule, RoutingTable};
use crate::schedule::CompiledSchedule;
use crate::Result;
use std::collections::HashMap;

/// The immutable configuration snapshot ingestion reads.
#[derive(Debug)]
pub struct Snapshot {
    /// The compiled routing table (its catalog is the product catalog).
    pub routing: RoutingTable,
    /// Workspaces by id.
    pub workspaces: HashMap<String, Workspace>,
    /// Providers by id, with their field maps.
    pub providers: HashMap<String, (Provider, FieldMap)>,
    /// Compiled weekly schedules of the workspaces that have one.
    pub schedules: HashMap<String, CompiledSchedule>,
    /// Time zones of the workspaces, for cap windows.
    pub zones: HashMap<String, Zone>,
    /// Capacities of the active rules that have one, by rule id.
    pub rule_capacity: HashMap<i64, Capacity>,
    /// Inbound webhooks by id.
    pub webhooks: HashMap<String, WebhookConfig>,
    /// The booking calendars of the workspaces that have one, cut into slots.
    pub slot_grids: HashMap<String, crate::booking::SlotGrid>,
}

impl Snapshot {
    pub(super) fn build(
        providers: Vec<Provider>,
        workspaces: Vec<Workspace>,
        rules: &[RoutingRule],
        webhooks: Vec<WebhookConfig>,
        config: &EngineConfig,
    ) -> Result<Snapshot> {
        // Products: every name rules and workspaces use, except configured aliases, which
        // then become other spellings of their products (so rules may use either).
        let is_alias = |name: &str| {
            config
                .product_aliases
                .iter()
                .any(|(a, _)| a.trim().eq_ignore_ascii_case(name.trim()))
        };
        let mut catalog = Catalog::new();
        let names = rules
            .iter()
            .flat_map(|r| r.product_types.iter())
            .chain(workspaces.iter().filter_map(|w| w.business_type.as_ref()))
            .chain(config.extra_products.iter());
        for name in names {
            if !is_alias(name) {
                catalog.add(name, None);
            }
        }
        for (alias, product) in &config.product_aliases {
            if !catalog.alias(alias, product) {
                return Err(crate::routing::RoutingError::UnknownProduct {
                    rule_id: 0,
                    product: format!("{product:?} (the target of alias {alias:?})"),
                }
                .into());
            }
        }
        let routing = RoutingTable::compile(rules, &workspaces, &catalog)?;
        let rule_capacity: HashMap<i64, Capacity> = rules
            .iter()
            .filter(|r| r.is_active && !r.capacity.is_unlimited())
            .map(|r| (r.id, r.capacity.clone()))
            .collect();
        let mut schedules = HashMap::new();
        let mut zones = HashMap::new();
        let mut slot_grids = HashMap::new();
        for w in &workspaces {
            if let Some(c) = &w.calendar {
                let hours = w.schedule.clone().unwrap_or_default();
                let grid = crate::booking::SlotGrid::compile(c, &hours, w.timezone.as_deref())?;
                slot_grids.insert(w.id.clone(), grid);
            }
            w.capacity.validate()?;
            if let Some(s) = &w.schedule {
                schedules.insert(w.id.clone(), s.compile(w.timezone.as_deref())?);
            }
            let capped = !w.capacity.is_unlimited()
                || rules
                    .iter()
                    .any(|r| r.workspace_id == w.id && rule_capacity.contains_key(&r.id));
            match Zone::for_workspace(w.timezone.as_deref()) {
                Ok(z) => {
                    zones.insert(w.id.clone(), z);
                }
                // A zone is only needed to count caps.
                Err(e) if capped => return Err(e.into()),
                Err(_) => {}
            }
        }
        for c in rule_capacity.values() {
            c.validate()?;
        }
        Ok(Snapshot {
            slot_grids,
            routing,
            schedules,
            zones,
            rule_capacity,
            workspaces: workspaces.into_iter().map(|w| (w.id.clone(), w)).collect(),
            webhooks: webhooks.into_iter().map(|w| (w.id.clone(), w)).collect(),
            providers: providers
                .into_iter()
                .map(|p| {
                    let map = FieldMap::from(&p);
                    (p.id.clone(), (p, map))
                })
                .collect(),
        })
    }
}

impl Snapshot {
    /// The time zone caps of a workspace are counted in (UTC when it has none).
    pub(super) fn zone(&self, workspace_id: &str) -> Result<Zone> {
        match self.zones.get(workspace_id) {
            Some(z) => Ok(z.clone()),
            None => Ok(Zone::utc()),
        }
    }
}
