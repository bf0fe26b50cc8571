//! Roles, the [`Principal`] a request acts as, and the [`Requirement`] each route declares.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::AuthError;

/// What a user may do. Admin may do everything; the others are checked against each route's
/// [`Requirement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Users, config, every job.
    Admin,
    /// Creates linkage projects and synthetic-data jobs and reads their results.
    Analyst,
    /// Uploads data and runs dispatcher tasks for their own sources.
    DataOwner,
    /// Reads, changes nothing.
    ReadOnly,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Analyst, Role::DataOwner, Role::ReadOnly];

    /// The role's name in config, tokens and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::DataOwner => "data-owner",
            Role::ReadOnly => "read-only",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text.trim())
            .ok_or_else(|| AuthError::UnknownRole(text.to_string()))
    }
}

/// Where a principal's credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalSource {
    /// A token Veil issued at login.
    Local,
    /// A token from the configured OpenID Connect issuer.
    Oidc,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// User name (local) or subject (OIDC).
    pub subject: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Where the credential came from.
    pub source: PrincipalSource,
}

impl Principal {
    /// Whether the principal has `role` (admin has every role).
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&Role::Admin) || self.roles.contains(&role)
    }
}

/// What a route needs from its caller. Every route declares one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Anyone, no credential (probes, login, the compatibility API with its own tokens).
    Public,
    /// Any authenticated user, whatever the role.
    Authenticated,
    /// A user with at least one of these roles (admin always qualifies).
    AnyOf(&'static [Role]),
}

impl Requirement {
    /// Whether `principal` (None: no credential) meets the requirement.
    pub fn allows(&self, principal: Option<&Principal>) -> bool {
        match (self, principal) {
            (Requirement::Public, _) => true,
            (_, None) => false,
            (Requirement::Authenticated, Some(_)) => true,
            (Requirement::AnyOf(roles), Some(principal)) => {
                roles.iter().any(|role| principal.has(*role))
            }
        }
    }

    /// Whether the route needs a credential at all.
    pub fn needs_credential(&self) -> bool {
        !matches!(self, Requirement::Public)
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Public => f.write_str("public"),
            Requirement::Authenticated => f.write_str("any authenticated user"),
            Requirement::AnyOf(roles) => {
                let names: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
                write!(f, "one of the roles {}", names.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[Role]) -> Principal {
        Principal {
            subject: "ada".into(),
            roles: roles.to_vec(),
            source: PrincipalSource::Local,
        }
    }

    #[test]
    fn role_names_round_trip_and_unknown_names_are_errors() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
        }
        let err = "root".parse::<Role>().unwrap_err();
        assert!(err.to_string().contains("\"root\""), "{err}");
    }

    #[test]
    fn requirements_check_roles_and_admin_has_them_all() {
        const WRITERS: &[Role] = &[Role::Analyst];
        let analyst = user(&[Role::Analyst]);
        let reader = user(&[Role::ReadOnly]);
        let admin = user(&[Role::Admin]);
        assert!(Requirement::Public.allows(None));
        assert!(!Requirement::Authenticated.allows(None));
        assert!(Requirement::Authenticated.allows(Some(&reader)));
        assert!(Requirement::AnyOf(WRITERS).allows(Some(&analyst)));
        assert!(!Requirement::AnyOf(WRITERS).allows(Some(&reader)));
        assert!(Requirement::AnyOf(WRITERS).allows(Some(&admin)));
        assert!(!Requirement::AnyOf(WRITERS).allows(None));
        assert!(!Requirement::AnyOf(&[]).allows(Some(&reader)));
        assert_eq!(
            Requirement::AnyOf(&[Role::Analyst, Role::DataOwner]).to_string(),
            "one of the roles analyst, data-owner"
        );
    }
}
