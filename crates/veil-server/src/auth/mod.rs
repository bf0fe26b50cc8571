//! Who may call what: the route table ([`routes`]), the gate every native request passes
//! ([`gate`]), the Entity Service API's own rules ([`entity_guard`]) and `/api/auth/*`
//! ([`handlers`]).

pub(crate) mod entity_guard;
pub(crate) mod gate;
pub(crate) mod handlers;
pub mod routes;
