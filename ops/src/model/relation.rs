//! Relations: which ones this unit is in, and who is on the other side.

use std::collections::BTreeSet;

use super::{Model, ModelError};
use crate::backend::{BackendError, RelationRef};
use crate::declared::EndpointName;

/// A relation this unit takes part in.
///
/// A snapshot for the dispatch: `relation-list` is asked once per relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Endpoint name and relation id.
    pub id: RelationRef,
    /// The remote application (this application, for a peer relation), if known.
    pub app: Option<String>,
    /// The remote units in the relation (for a peer relation, the other units
    /// of this application). In relation-departed the departing unit is no
    /// longer among them.
    pub units: BTreeSet<String>,
    /// Whether the relation is alive: false for the relation being broken
    /// (in relation-broken) and for one Juju no longer knows. A dead
    /// relation's databags read as empty (Python ops' "dead relations tell
    /// no tales"); writing to them fails.
    pub active: bool,
}

impl Relation {
    /// The endpoint name.
    pub fn name(&self) -> &str {
        &self.id.name
    }
}

impl Model {
    fn check_endpoint(&self, endpoint: &str) -> Result<(), ModelError> {
        if self.meta.endpoint(endpoint).is_none() {
            return Err(ModelError::UnknownEndpoint {
                endpoint: endpoint.to_string(),
            });
        }
        Ok(())
    }

    /// `relation-ids`, once per endpoint per dispatch.
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationRef>, ModelError> {
        if let Some(ids) = self.relation_ids.borrow().get(endpoint) {
            return Ok(ids.clone());
        }
        let ids = self
            .backend
            .relation_ids(endpoint)
            .map_err(ModelError::backend(format!(
                "listing the relations of {endpoint}"
            )))?;
        self.relation_ids
            .borrow_mut()
            .insert(endpoint.to_string(), ids.clone());
        Ok(ids)
    }

    /// `relation-list` (and, if it names no unit, `JUJU_REMOTE_APP` for the
    /// hook's relation or else `relation-list --app`), once per relation per
    /// dispatch. The departing unit never names the remote app: when this
    /// unit is the one leaving, it is of this application.
    fn load_relation(&self, id: &RelationRef) -> Result<Relation, ModelError> {
        if let Some(relation) = self.relations.borrow().get(id) {
            return Ok(relation.clone());
        }
        let mut active = self.broken_relation.as_ref() != Some(id);
        let units: BTreeSet<String> = match self.backend.relation_list(id) {
            Ok(units) => units.into_iter().collect(),
            // A relation being torn down has no units left to list.
            Err(BackendError::RelationNotFound { .. }) => {
                active = false;
                BTreeSet::new()
            }
            Err(e) => {
                return Err(ModelError::backend(format!("listing the units of {id}"))(e));
            }
        };
        let app_of = |unit: &String| unit.split('/').next().map(str::to_string);
        let app = if self.meta.is_peer(&id.name) {
            Some(self.app.name().to_string())
        } else if let Some(app) = units.iter().next().and_then(app_of) {
            Some(app)
        } else if let Some(app) = self
            .remote_app
            .as_ref()
            .filter(|app| !app.is_empty() && self.hook_relation.as_ref() == Some(id))
        {
            Some(app.clone())
        } else {
            match self.backend.relation_remote_app(id) {
                Ok(app) => app,
                Err(BackendError::RelationNotFound { .. }) => None,
                Err(e) => {
                    return Err(ModelError::backend(format!(
                        "getting the remote application of {id}"
                    ))(e));
                }
            }
        };
        let relation = Relation {
            id: id.clone(),
            app,
            units,
            active,
        };
        self.relations
            .borrow_mut()
            .insert(id.clone(), relation.clone());
        Ok(relation)
    }

    /// The relations of an endpoint. The relation being broken (in
    /// relation-broken) is not among them. An endpoint the metadata does not
    /// declare is [`ModelError::UnknownEndpoint`].
    pub fn relations(&self, endpoint: impl EndpointName) -> Result<Vec<Relation>, ModelError> {
        let endpoint = endpoint.endpoint_name();
        self.check_endpoint(endpoint)?;
        self.relation_ids(endpoint)?
            .iter()
            .filter(|id| self.broken_relation.as_ref() != Some(*id))
            .map(|id| self.load_relation(id))
            .collect()
    }

    /// The one relation of an endpoint, if any; [`ModelError::TooManyRelations`]
    /// if there are several.
    pub fn relation(&self, endpoint: impl EndpointName) -> Result<Option<Relation>, ModelError> {
        let endpoint = endpoint.endpoint_name();
        let mut relations = self.relations(endpoint)?;
        match relations.len() {
            0 | 1 => Ok(relations.pop()),
            count => Err(ModelError::TooManyRelations {
                endpoint: endpoint.to_string(),
                count,
            }),
        }
    }

    /// A relation by id, if this unit is in it. The relation being broken is
    /// found too, so that a relation-broken handler can still look at it.
    pub fn relation_by_id(
        &self,
        endpoint: impl EndpointName,
        id: u32,
    ) -> Result<Option<Relation>, ModelError> {
        let endpoint = endpoint.endpoint_name();
        self.check_endpoint(endpoint)?;
        let relation = RelationRef::new(endpoint, id);
        let known = self.broken_relation.as_ref() == Some(&relation)
            || self.relation_ids(endpoint)?.contains(&relation);
        if !known {
            return Ok(None);
        }
        self.load_relation(&relation).map(Some)
    }

    /// The UUID of the model the relation's remote application is in
    /// (`relation-model-get`): another model's for a cross-model relation.
    pub fn relation_model_uuid(&self, relation: &Relation) -> Result<String, ModelError> {
        self.backend
            .relation_model_get(&relation.id)
            .map_err(ModelError::backend(format!(
                "getting the model of {}",
                relation.id
            )))
    }

    /// The relation of the current relation event, if any.
    pub fn hook_relation(&self) -> Option<&RelationRef> {
        self.hook_relation.as_ref()
    }

    /// The unit leaving, in relation-departed.
    pub fn departing_unit(&self) -> Option<&str> {
        self.departing_unit.as_deref()
    }
}
