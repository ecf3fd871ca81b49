//! The product catalog: canonical product names, their aliases, and their lead types.
//!
//! Products are what routing rules target and what the payload calls `service_type`
//! (`Solar`, `Heat Pump`, ...). Matching is exact after trimming and ASCII case folding:
//! `heat pump` is `Heat Pump`, but `Heat` is not `Heat Pump` (the seed's SQL `LIKE '%Heat%'`
//! matched both `Heat Pump` and `Water Heater`). A lead type is the vertical a provider is
//! allowed to send (`providers.json` `lead_types`): several products can share one, as
//! `HVAC`, `Heat Pump` and `Water Heater` share `hvac`.

/// Index of a product in its [`Catalog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProductId(pub u16);

/// Built-in lead types of products whose vertical is not their own lowercase name.
const BUILTIN_LEAD_TYPES: &[(&str, &str)] = &[("heat pump", "hvac"), ("water heater", "hvac")];

/// The default lead type of a product: the built-in vertical (`Heat Pump` → `hvac`) or the
/// product's lowercase name (`Solar` → `solar`).
pub fn default_lead_type(product: &str) -> String {
    let key = product.trim().to_ascii_lowercase();
    BUILTIN_LEAD_TYPES
        .iter()
        .find(|(p, _)| *p == key)
        .map(|(_, t)| (*t).to_string())
        .unwrap_or(key)
}

/// Canonical products, aliases and lead types.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    names: Vec<String>,
    lead_types: Vec<String>,
    /// (spelling, product): canonical names and aliases, matched case-insensitively.
    spellings: Vec<(String, ProductId)>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// A catalog of these product names with their default lead types, in order of first
    /// appearance (spellings that differ only in case are one product).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Catalog {
        let mut c = Catalog::new();
        for n in names {
            c.add(n, None);
        }
        c
    }

    /// Adds a product (or returns the existing one with that spelling).
    ///
    /// `lead_type` defaults to [`default_lead_type`]. Empty names are ignored and return
    /// `None`; so does a catalog full at 65,535 products.
    pub fn add(&mut self, name: &str, lead_type: Option<&str>) -> Option<ProductId> {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        if let Some(id) = self.lookup(name) {
            return Some(id);
        }
        let id = ProductId(u16::try_from(self.names.len()).ok()?);
        self.names.push(name.to_string());
        self.lead_types.push(
            lead_type
                .map(|t| t.trim().to_ascii_lowercase())
                .unwrap_or_else(|| default_lead_type(name)),
        );
        self.spellings.push((name.to_string(), id));
        Some(id)
    }

    /// Makes `alias` another spelling of `product` (e.g. `PV` → `Solar`).
    ///
    /// Returns `false` when `product` is not in the catalog or the alias already names a
    /// different product.
    pub fn alias(&mut self, alias: &str, product: &str) -> bool {
        let Some(id) = self.lookup(product) else {
            return false;
        };
        match self.lookup(alias) {
            Some(existing) => existing == id,
            None => {
                self.spellings.push((alias.trim().to_string(), id));
                true
            }
        }
    }

    /// The product this spelling names: exact after trimming and ASCII case folding.
    pub fn lookup(&self, raw: &str) -> Option<ProductId> {
        let key = raw.trim();
        self.spellings
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(key))
            .map(|(_, id)| *id)
    }

    /// Canonical name of a product. Panics on an id from another catalog.
    pub fn name(&self, id: ProductId) -> &str {
        &self.names[id.0 as usize]
    }

    /// Lead type (vertical) of a product.
    pub fn lead_type(&self, id: ProductId) -> &str {
        &self.lead_types[id.0 as usize]
    }

    /// Number of products.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the catalog has no product.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// All products, in id order.
    pub fn products(&self) -> impl Iterator<Item = (ProductId, &str)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (ProductId(i as u16), n.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_case_insensitive_no_substrings() {
        let c = Catalog::from_names(["HVAC", "Heat Pump", "Water Heater", "Solar", "solar"]);
        assert_eq!(c.len(), 4);
        assert_eq!(c.lookup(" heat PUMP "), c.lookup("Heat Pump"));
        assert!(c.lookup("Heat").is_none());
        assert!(c.lookup("Pump").is_none());
        assert_eq!(c.name(c.lookup("SOLAR").unwrap()), "Solar");
    }

    #[test]
    fn lead_types_and_aliases() {
        let mut c = Catalog::from_names(["HVAC", "Heat Pump", "Water Heater", "Battery"]);
        assert_eq!(c.lead_type(c.lookup("Heat Pump").unwrap()), "hvac");
        assert_eq!(c.lead_type(c.lookup("water heater").unwrap()), "hvac");
        assert_eq!(c.lead_type(c.lookup("Battery").unwrap()), "battery");
        assert!(c.alias("AC", "HVAC"));
        assert_eq!(c.lookup("ac"), c.lookup("HVAC"));
        assert!(!c.alias("HVAC", "Battery"));
        assert!(!c.alias("x", "Nope"));
        assert_eq!(c.add("  ", None), None);
    }
}
