//! User claims by scope, in the shape of the seed's userinfo sample (unknown profile fields
//! are `null`, as Authing sends them).

use serde_json::{Map, Value, json};

use crate::config::DevUser;

/// Whether the space-separated `scope` contains `name`.
pub(crate) fn has_scope(scope: &str, name: &str) -> bool {
    scope.split(' ').any(|s| s == name)
}

/// The claims about `user` that `scope` grants, without `sub`.
/// ([OIDC Core §5.4](https://openid.net/specs/openid-connect-core-1_0.html#ScopeClaims)).
pub(crate) fn user_claims(user: &DevUser, scope: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    if has_scope(scope, "profile") {
        let profile = json!({
            "name": user.name,
            "given_name": null,
            "family_name": null,
            "middle_name": null,
            "nickname": null,
            "preferred_username": user.username,
            "profile": null,
            "picture": "https://files.authing.co/authing-console/default-user-avatar.png",
            "website": null,
            "gender": "U",
            "birthdate": null,
            "zoneinfo": null,
            "locale": null,
            "updated_at": "2024-01-01T00:00:00.000Z",
        });
        if let Value::Object(map) = profile {
            claims.extend(map);
        }
    }
    if has_scope(scope, "email") {
        claims.insert("email".into(), json!(user.email));
        claims.insert("email_verified".into(), json!(user.email_verified));
    }
    if has_scope(scope, "phone") {
        claims.insert("phone_number".into(), json!(user.phone_number));
        claims.insert("phone_number_verified".into(), json!(user.phone_number.is_some()));
    }
    if has_scope(scope, "address") {
        claims.insert(
            "address".into(),
            json!({"country": null, "postal_code": null, "region": null, "formatted": null}),
        );
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_follow_scope() {
        let user = DevUser::new("bob", "pw", "Bob", "bob@example.com");
        let none = user_claims(&user, "openid");
        assert!(none.is_empty());
        let all = user_claims(&user, "openid profile email");
        assert_eq!(all["name"], "Bob");
        assert_eq!(all["email_verified"], true);
        assert!(!all.contains_key("phone_number"));
        assert!(!has_scope("openid profile", "prof"));
    }
}
