//! `RoutingTable` and `RouteMatch`.

use crate::convert::{from_py, to_py};
use crate::errors::{err, validation};
use leadroute_core::catalog::Catalog;
use leadroute_core::routing::{RoutingRule, RoutingTable as CoreTable};
use leadroute_core::seed;
use leadroute_core::zip::Zip5;
use leadroute_core::Error;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use std::collections::{BTreeSet, HashMap};

/// The rule a routing decision chose: ``workspace_id`` (str), ``rule_id`` (int) and
/// ``priority`` (int, lower wins). Immutable, comparable and hashable.
#[pyclass(frozen, eq, hash, module = "leadroute._leadroute")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteMatch {
    /// The workspace that gets the appointment.
    #[pyo3(get)]
    pub workspace_id: String,
    /// The matching rule's id.
    #[pyo3(get)]
    pub rule_id: i64,
    /// The matching rule's priority.
    #[pyo3(get)]
    pub priority: i32,
}

#[pymethods]
impl RouteMatch {
    fn __repr__(&self) -> String {
        format!(
            "RouteMatch(workspace_id={:?}, rule_id={}, priority={})",
            self.workspace_id, self.rule_id, self.priority
        )
    }
}

/// Parses rule dicts (the seed's shape plus targeting) with the seed reader.
pub fn rules_from_py(py: Python<'_>, rules: &Bound<'_, PyAny>) -> PyResult<Vec<RoutingRule>> {
    let value = from_py(rules)?;
    let text = value.to_string();
    seed::load_rules(&text).map_err(|e| err(py)(Error::from(e)))
}

/// Parses a ZIP5 (or ZIP+4) for a single-item call, raising ``ValidationError``.
pub fn zip_arg(py: Python<'_>, zip: &str) -> PyResult<Zip5> {
    Zip5::parse(zip).map_err(|e| err(py)(Error::from(e)))
}

/// A compiled routing table built from rule dicts, for routing without a database.
///
/// ``rules`` is a sequence of dicts in the seed's shape (``routing_rules.json``): ``id``
/// (int), ``workspace_id`` (str), ``product_types`` (list of str), ``zip_codes`` (list of
/// ZIP5 str), ``priority`` (int, lower wins), ``is_active`` (bool), optional ``notes``; plus the
/// optional targeting fields ``states`` (USPS codes), ``zip3_prefixes`` (3-digit str),
/// ``radius`` (``{"zip": str, "miles": float}``), ``excluded_zips`` (list of ZIP5 str) and
/// ``weight`` (int >= 1).
///
/// ``products`` names products known besides those the rules name: routing one of them gives
/// ``None`` (no rule) rather than an unknown product. Products match exactly,
/// case-insensitively (``"Heat"`` is not ``"Heat Pump"``).
///
/// There is no workspace list here: every workspace a rule names is treated as existing with
/// an active webhook, so no candidate is ever skipped for its workspace (an ``Engine`` routes
/// with its stored workspaces, schedules and caps instead). Ties of equal priority go to the
/// lowest rule id.
///
/// Raises ``ValidationError`` (``.field == "rules"``) when a rule does not have the shape
/// (``.code == "invalid_shape"``) or does not compile (``invalid_zip``, ``unknown_state``,
/// ``invalid_zip_prefix``, ``unknown_radius_zip``, ``invalid_radius``, ``invalid_weight``,
/// ``duplicate_rule``, ...).
#[pyclass(frozen, module = "leadroute._leadroute", name = "RoutingTable")]
pub struct PyRoutingTable {
    table: CoreTable,
    /// One shared `RouteMatch` per active rule, by rule id.
    matches: HashMap<i64, Py<RouteMatch>>,
}

impl PyRoutingTable {
    fn match_for(&self, py: Python<'_>, rule_id: i64) -> Py<PyAny> {
        match self.matches.get(&rule_id) {
            Some(m) => m.clone_ref(py).into_any(),
            None => py.None(),
        }
    }

    fn route_id(&self, product: &str, zip: Zip5) -> Option<i64> {
        self.table
            .route(product, zip)
            .outcome
            .ok()
            .map(|m| m.rule_id)
    }
}

#[pymethods]
impl PyRoutingTable {
    #[new]
    #[pyo3(signature = (rules, *, products = None))]
    fn new(
        py: Python<'_>,
        rules: &Bound<'_, PyAny>,
        products: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let rules = rules_from_py(py, rules)?;
        let mut catalog = Catalog::new();
        for name in rules.iter().flat_map(|r| r.product_types.iter()) {
            catalog.add(name, None);
        }
        for name in products.iter().flatten() {
            if name.trim().is_empty() {
                return Err(validation(
                    py,
                    "product names must not be empty",
                    "invalid_product",
                    Some("products"),
                ));
            }
            catalog.add(name, None);
        }
        let workspace_ids: BTreeSet<&str> = rules.iter().map(|r| r.workspace_id.as_str()).collect();
        let workspaces_json = serde_json::Value::Array(
            workspace_ids
                .iter()
                .map(|id| {
                    serde_json::json!({"id": id, "outbound_webhook_url": "",
                                       "webhook_active": true, "payment_rate": 0})
                })
                .collect(),
        );
        let workspaces = seed::load_workspaces(&workspaces_json.to_string(), "")
            .map_err(|e| err(py)(Error::from(e)))?;
        let table = py
            .detach(|| CoreTable::compile(&rules, &workspaces, &catalog))
            .map_err(|e| err(py)(Error::from(e)))?;
        let mut matches = HashMap::new();
        for r in rules.iter().filter(|r| r.is_active) {
            let m = RouteMatch {
                workspace_id: r.workspace_id.clone(),
                rule_id: r.id,
                priority: r.priority,
            };
            matches.insert(r.id, Py::new(py, m)?);
        }
        Ok(PyRoutingTable { table, matches })
    }

    /// The ``RouteMatch`` for a product (any spelling the rules or ``products`` use,
    /// case-insensitive) and a ZIP5 or ZIP+4 string, or ``None`` when no active rule covers
    /// them. Raises ``ValidationError`` (``.code == "invalid_zip"``) for a ZIP that is not a
    /// ZIP5 or ZIP+4.
    fn route(&self, py: Python<'_>, product: &str, zip: &str) -> PyResult<Py<PyAny>> {
        let zip = zip_arg(py, zip)?;
        Ok(match self.route_id(product, zip) {
            Some(id) => self.match_for(py, id),
            None => py.None(),
        })
    }

    /// Routes many ``(product, zip)`` pairs (any iterable of 2-sequences of str); returns a
    /// list with one ``RouteMatch`` or ``None`` per pair, in order. Never raises for bad data:
    /// a ZIP that is not a ZIP5 or ZIP+4 gives ``None``, as does an unknown product. The
    /// routing itself runs with the GIL released.
    fn route_many<'py>(
        &self,
        py: Python<'py>,
        pairs: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut input: Vec<(String, String)> = match pairs.len() {
            Ok(n) => Vec::with_capacity(n),
            Err(_) => Vec::new(),
        };
        // Products repeat: convert each distinct Python string object once.
        let mut last_product: Option<(Bound<'py, PyAny>, String)> = None;
        for item in pairs.try_iter()? {
            let item = item?;
            let pair = if let Ok(t) = item.cast::<PyTuple>() {
                (t.len() == 2).then(|| (t.get_item(0), t.get_item(1)))
            } else if let Ok(l) = item.cast::<PyList>() {
                (l.len() == 2).then(|| (l.get_item(0), l.get_item(1)))
            } else {
                None
            };
            let (p, z) = match pair {
                Some((p, z)) => (p?, z?),
                None => {
                    return Err(PyTypeError::new_err(
                        "route_many expects (product, zip) pairs",
                    ))
                }
            };
            let product = match &last_product {
                Some((obj, s)) if obj.is(&p) => s.clone(),
                _ => {
                    let s = p.cast::<PyString>()?.to_cow()?.into_owned();
                    last_product = Some((p, s.clone()));
                    s
                }
            };
            let zip = z.cast::<PyString>()?.to_cow()?.into_owned();
            input.push((product, zip));
        }
        let ids: Vec<Option<i64>> = py.detach(|| {
            input
                .iter()
                .map(|(p, z)| Zip5::parse(z).ok().and_then(|z| self.route_id(p, z)))
                .collect()
        });
        PyList::new(
            py,
            ids.into_iter().map(|id| match id {
                Some(id) => self.match_for(py, id),
                None => py.None(),
            }),
        )
    }

    /// The full trace of routing ``(product, zip)``, as a dict: ``product`` (canonical name or
    /// ``None``), ``zip``, ``policy``, ``outcome`` (``{"rule_id", "workspace_id",
    /// "priority"}`` or ``{"unrouted": reason}``), ``candidates`` (every candidate in decision
    /// order with ``status`` ``matched``/``skipped``/``not_reached``), ``excluded`` and
    /// ``inactive`` rules. Raises ``ValidationError`` for a bad ZIP.
    fn explain<'py>(
        &self,
        py: Python<'py>,
        product: &str,
        zip: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let zip = zip_arg(py, zip)?;
        to_py(py, &self.table.explain(product, zip).to_json())
    }

    /// Number of active rules in the table.
    #[getter]
    fn rule_count(&self) -> usize {
        self.table.rule_count()
    }

    /// The canonical names of the products the table knows, in catalog order.
    #[getter]
    fn products(&self) -> Vec<String> {
        self.table
            .catalog()
            .products()
            .map(|(_, name)| name.to_string())
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "RoutingTable(<{} active rules, {} products>)",
            self.table.rule_count(),
            self.table.catalog().len()
        )
    }
}
