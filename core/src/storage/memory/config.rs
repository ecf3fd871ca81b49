//! Providers, workspaces and routing rules.

use super::*;

impl ProviderRepo for MemTx {
    fn put_provider(&self, provider: &Provider) -> Result<(), StorageError> {
        self.write(|s| {
            let id = provider.id.clone();
            let undo = put_undoable(&mut s.providers, id, provider.clone(), |s| &mut s.providers);
            Ok(((), undo))
        })
    }
    fn provider(&self, id: &str) -> Result<Option<Provider>, StorageError> {
        self.read(|s| s.providers.get(id).cloned())
    }
    fn providers(&self) -> Result<Vec<Provider>, StorageError> {
        self.read(|s| s.providers.values().cloned().collect())
    }
}

impl WorkspaceRepo for MemTx {
    fn put_workspace(&self, workspace: &Workspace) -> Result<(), StorageError> {
        self.write(|s| {
            let id = workspace.id.clone();
            let undo = put_undoable(&mut s.workspaces, id, workspace.clone(), |s| {
                &mut s.workspaces
            });
            Ok(((), undo))
        })
    }
    fn workspace(&self, id: &str) -> Result<Option<Workspace>, StorageError> {
        self.read(|s| s.workspaces.get(id).cloned())
    }
    fn workspaces(&self) -> Result<Vec<Workspace>, StorageError> {
        self.read(|s| s.workspaces.values().cloned().collect())
    }
}

impl RuleRepo for MemTx {
    fn put_rule(&self, rule: &RoutingRule) -> Result<(), StorageError> {
        self.write(|s| {
            if !s.workspaces.contains_key(&rule.workspace_id) {
                return Err(conflict(format!(
                    "rule {}: workspace {} does not exist",
                    rule.id, rule.workspace_id
                )));
            }
            let id = rule.id;
            let undo = put_undoable(&mut s.rules, id, rule.clone(), |s| &mut s.rules);
            Ok(((), undo))
        })
    }
    fn rules(&self) -> Result<Vec<RoutingRule>, StorageError> {
        self.read(|s| s.rules.values().cloned().collect())
    }
}
