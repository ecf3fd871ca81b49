//! [`EngineConfig`]: the engine's settings.

use super::clock::{Clock, SystemClock};
use crate::contact::DedupScope;
use crate::delivery::{EndpointPolicy, RetryPolicy};
use crate::email::EmailKeyRules;
use crate::routing::TiePolicy;
use crate::validate;
use std::sync::Arc;
use std::time::Duration;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// CLDR region for phones written without a country code. Default `US`.
    pub default_region: String,
    /// Which records share contacts. Default per provider, as in the seed.
    pub dedup_scope: DedupScope,
    /// How email dedup keys are derived (Gmail rules are opt-in). Default: off.
    pub email_rules: EmailKeyRules,
    /// Whether a lead needs a valid phone (the seed's rule, default `true`). When `false`, a
    /// valid email is enough and contacts without a phone dedup on their email key.
    pub require_phone: bool,
    /// Lead-level duplicate window: the same contact and product again within it is a
    /// duplicate lead. Default 30 days; a workspace's `duplicate_window_days` overrides it
    /// for leads routed there; zero turns it off.
    pub duplicate_window: jiff::SignedDuration,
    /// Retry schedule of deliveries. Default Svix's.
    pub retry: RetryPolicy,
    /// When endpoints pause after failures, and for how long.
    pub endpoint: EndpointPolicy,
    /// Timeout of one webhook request. Default 15 s.
    pub request_timeout: Duration,
    /// How long a worker holds claimed deliveries. Default 5 min (longer than a batch takes).
    pub lease: Duration,
    /// Webhook requests sent in parallel by [`Engine::deliver_due`](super::Engine::deliver_due). Default 8.
    pub delivery_workers: usize,
    /// Products known besides those named by rules and workspaces.
    pub extra_products: Vec<String>,
    /// Other spellings of products, `(alias, product)`, e.g. `("PV", "Solar")`: a record or
    /// rule naming the alias means the product. An alias of an unknown product, or one that
    /// already names another product, is a configuration error.
    pub product_aliases: Vec<(String, String)>,
    /// How rules of equal priority share appointments. Default: lowest rule id.
    pub tie_policy: TiePolicy,
    /// Largest request body [`Engine::ingest_request`](super::Engine::ingest_request) takes, in bytes. Default 16 MiB.
    pub max_body_bytes: usize,
    /// Required fields per vertical, field length limits, the state/ZIP check. Default: no
    /// vertical rules (as the seed), the limits and the check on.
    pub validation: validate::ValidationOptions,
    /// Whether a batch of at least [`PIPELINE_MIN_RECORDS`] runs its pure steps (parse, map,
    /// validate, normalize) on a second thread, ahead of the calling thread, which writes
    /// each record in order in the batch's transaction as soon as it is prepared (a
    /// two-stage pipeline; outcomes and stored rows are the same either way). Default:
    /// `true` when the machine has more than one core.
    pub pipeline: bool,
    /// Where "now" comes from: every stored time (received, routed, attempted, billed,
    /// audited) is read from it. Default [`SystemClock`]; tests use a [`super::FixedClock`].
    pub clock: Arc<dyn Clock>,
    /// Which leads enter the contact queue and the queue's settings (global and per lead
    /// type). Default: every new lead without an appointment time; 5 per claim, 4 hours
    /// between attempts, 3 attempts.
    pub contact_queue: crate::contact_queue::ContactQueueConfig,
    /// How long a claimed contact stays leased to its worker. Default 15 minutes.
    pub contact_lease: Duration,
    /// The calling rules (quiet hours, state limits): `None` for the bundled data
    /// (`core/data/contact_rules.json`; [`crate::quiet_hours::ContactRules::bundled`]).
    pub contact_rules: Option<Arc<crate::quiet_hours::ContactRules>>,
}

/// The fewest records for which [`EngineConfig::pipeline`] starts a thread: below this,
/// starting it (tens of microseconds) costs more than it saves.
pub const PIPELINE_MIN_RECORDS: usize = 32;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            default_region: "US".into(),
            dedup_scope: DedupScope::Provider,
            email_rules: EmailKeyRules::default(),
            require_phone: true,
            duplicate_window: jiff::SignedDuration::from_hours(30 * 24),
            retry: RetryPolicy::default(),
            endpoint: EndpointPolicy::default(),
            request_timeout: Duration::from_secs(15),
            lease: Duration::from_secs(300),
            delivery_workers: 8,
            extra_products: Vec::new(),
            product_aliases: Vec::new(),
            tie_policy: TiePolicy::LowestId,
            max_body_bytes: 16 << 20,
            validation: validate::ValidationOptions::default(),
            pipeline: std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
            clock: Arc::new(SystemClock),
            contact_queue: Default::default(),
            contact_lease: Duration::from_secs(15 * 60),
            contact_rules: None,
        }
    }
}
