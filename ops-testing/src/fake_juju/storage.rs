//! Storage as the fake Juju keeps it: instances attached to a unit
//! (`storage-list`, `storage-get`) and requests for more (`storage-add`).

use serde_json::{Value, json};

use super::hook::HookResult;
use super::{FakeJuju, HookContext, HookError, StorageState};

fn not_found(id: &str) -> HookError {
    HookError::usage(format!(
        "invalid value {id:?} for option -s: storage not found"
    ))
}

impl FakeJuju {
    /// Attaches a storage instance (`data/0`) to `unit`, mounted at `location`.
    pub fn attach_storage(&mut self, unit: &str, id: &str, kind: &str, location: &str) {
        if let Some(u) = self.units.get_mut(unit) {
            u.storage.insert(
                id.to_string(),
                StorageState {
                    kind: kind.to_string(),
                    location: location.to_string(),
                },
            );
        }
    }

    /// `storage-list [<name>]`: the ids of the unit's storage instances.
    pub fn hook_storage_list(&self, ctx: &HookContext, name: Option<&str>) -> Vec<String> {
        self.units
            .get(&ctx.unit)
            .map(|u| {
                u.storage
                    .keys()
                    .filter(|id| name.is_none_or(|n| id.split('/').next() == Some(n)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `storage-get -s <id> [<key>]`: the instance's attributes (`kind`,
    /// `location`), or one of them.
    pub fn hook_storage_get(
        &self,
        ctx: &HookContext,
        id: &str,
        key: Option<&str>,
    ) -> HookResult<Value> {
        let storage = self
            .units
            .get(&ctx.unit)
            .and_then(|u| u.storage.get(id))
            .ok_or_else(|| not_found(id))?;
        let all = json!({"kind": storage.kind, "location": storage.location});
        match key {
            None => Ok(all),
            Some(key) => all
                .get(key)
                .cloned()
                .ok_or_else(|| HookError::other(format!("invalid storage attribute {key:?}"))),
        }
    }

    /// `storage-add <name>[=<count>]`: recorded on the unit, when the hook
    /// succeeds, for the test to
    /// look at (Juju adds the instances after the hook).
    pub fn hook_storage_add(
        &mut self,
        ctx: &HookContext,
        name: &str,
        count: u32,
    ) -> HookResult<()> {
        if name.is_empty() || count == 0 {
            return Err(HookError::usage(format!(
                "invalid storage constraints {name:?}={count}"
            )));
        }
        if self.units.contains_key(&ctx.unit) {
            let pending = self.pending.entry(ctx.unit.clone()).or_default();
            *pending
                .storage_requests
                .entry(name.to_string())
                .or_default() += count;
        }
        Ok(())
    }
}
