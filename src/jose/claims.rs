//! The registered claims (RFC 7519 §4.1) and their checks, written once for
//! every kind of JWT this crate verifies. Each kind parses its payload into
//! its own type, lends the registered claims as a [`Registered`], and names
//! what it requires in a [`ClaimRules`].

use crate::error::IdTokenError;
use crate::jose::jwks::shorten;

/// The registered claims of one token, borrowed from the kind's own claims.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Registered<'a> {
    pub(crate) iss: Option<&'a str>,
    pub(crate) aud: &'a [String],
    pub(crate) azp: Option<&'a str>,
    pub(crate) exp: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) iat: Option<i64>,
    pub(crate) jti: Option<&'a str>,
}

/// Which audiences a token may carry (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Copy)]
pub(crate) enum AudienceRule<'a> {
    /// OIDC Core §3.1.3.7 step 3: `aud` contains the client id; any other
    /// audience must be one the client trusts.
    Client {
        client_id: &'a str,
        trusted: &'a [String],
    },
    /// RFC 9068 §4: at least one audience is among these.
    AnyOf(&'a [String]),
}

/// What `azp` must be (OIDC Core §3.1.3.7 steps 4 and 5).
#[derive(Debug, Clone, Copy)]
pub(crate) enum AzpRule<'a> {
    /// When present it is this client id, and it is required when `aud`
    /// holds several audiences.
    Client(&'a str),
    /// Not checked.
    Ignore,
}

/// What one kind of JWT requires of its registered claims, and the clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaimRules<'a> {
    /// RFC 7519 §4.1.1: `iss` must equal this exactly.
    pub(crate) issuer: &'a str,
    pub(crate) audience: AudienceRule<'a>,
    pub(crate) azp: AzpRule<'a>,
    /// `exp` must be present (it is checked whenever present).
    pub(crate) require_exp: bool,
    /// `iat` must be present (it is checked whenever present).
    pub(crate) require_iat: bool,
    /// `jti` must be present and non-empty.
    pub(crate) require_jti: bool,
    /// Now, seconds since the epoch.
    pub(crate) now: i64,
    /// Clock skew allowed on `exp` and `nbf`, seconds.
    pub(crate) leeway: i64,
    /// How far in the future `iat` may be, seconds.
    pub(crate) max_iat_skew: i64,
}

impl ClaimRules<'_> {
    /// Applies every rule, in the order of OIDC Core §3.1.3.7 (steps 2–5,
    /// 9, 10), then RFC 7519 §4.1.5 (`nbf`) and §4.1.7 (`jti`).
    pub(crate) fn check(&self, claims: &Registered<'_>) -> Result<(), IdTokenError> {
        let iss = claims.iss.ok_or(IdTokenError::MissingClaim("iss"))?;
        if iss != self.issuer {
            return Err(IdTokenError::IssuerMismatch {
                expected: self.issuer.to_owned(),
                actual: shorten(iss),
            });
        }
        self.check_audience(claims)?;
        let now = self.now;
        match claims.exp {
            // Before exp, plus leeway for clock skew (RFC 7519 §4.1.4).
            Some(exp) if now >= exp.saturating_add(self.leeway) => return Err(IdTokenError::Expired),
            None if self.require_exp => return Err(IdTokenError::MissingClaim("exp")),
            _ => {}
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
        {
            return Err(IdTokenError::NotYetValid);
        }
        match claims.iat {
            // RFC 8725 §3.10 / OIDC Core step 10: a token issued in the future was not issued by
            // a provider with a sane clock; refusing bounds how long a pre-minted token is good.
            Some(iat) if iat > now.saturating_add(self.max_iat_skew) => {
                return Err(IdTokenError::IssuedInFuture);
            }
            None if self.require_iat => return Err(IdTokenError::MissingClaim("iat")),
            _ => {}
        }
        if self.require_jti && claims.jti.is_none_or(str::is_empty) {
            return Err(IdTokenError::MissingClaim("jti"));
        }
        Ok(())
    }

    fn check_audience(&self, claims: &Registered<'_>) -> Result<(), IdTokenError> {
        let aud = claims.aud;
        match self.audience {
            AudienceRule::Client { client_id, trusted } => {
                if !aud.iter().any(|a| a == client_id) {
                    return Err(IdTokenError::AudienceMismatch);
                }
                if let Some(untrusted) = aud
                    .iter()
                    .find(|a| a.as_str() != client_id && !trusted.iter().any(|t| t == *a))
                {
                    return Err(IdTokenError::UntrustedAudience(shorten(untrusted)));
                }
            }
            AudienceRule::AnyOf(accepted) => {
                if !aud.iter().any(|a| accepted.contains(a)) {
                    return Err(IdTokenError::AudienceMismatch);
                }
            }
        }
        if let AzpRule::Client(client_id) = self.azp {
            match claims.azp {
                Some(azp) if azp != client_id => return Err(IdTokenError::AuthorizedPartyMismatch),
                None if aud.len() > 1 => return Err(IdTokenError::AuthorizedPartyMismatch),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn rules<'a>(trusted: &'a [String]) -> ClaimRules<'a> {
        ClaimRules {
            issuer: "https://op",
            audience: AudienceRule::Client {
                client_id: "app",
                trusted,
            },
            azp: AzpRule::Client("app"),
            require_exp: true,
            require_iat: true,
            require_jti: false,
            now: NOW,
            leeway: 60,
            max_iat_skew: 360,
        }
    }

    fn good(aud: &[String]) -> Registered<'_> {
        Registered {
            iss: Some("https://op"),
            aud,
            exp: Some(NOW + 100),
            iat: Some(NOW),
            ..Registered::default()
        }
    }

    #[test]
    fn each_rule_refuses() {
        let app = ["app".to_owned()];
        let two = ["app".to_owned(), "api".to_owned()];
        let trusted = ["api".to_owned()];
        let r = rules(&[]);
        assert_eq!(r.check(&good(&app)), Ok(()));
        let e = |c: Registered<'_>, r: &ClaimRules<'_>| r.check(&c).unwrap_err();
        assert!(matches!(
            e(
                Registered {
                    iss: Some("x"),
                    ..good(&app)
                },
                &r
            ),
            IdTokenError::IssuerMismatch { .. }
        ));
        assert_eq!(
            e(
                Registered {
                    iss: None,
                    ..good(&app)
                },
                &r
            ),
            IdTokenError::MissingClaim("iss")
        );
        assert_eq!(e(good(&[]), &r), IdTokenError::AudienceMismatch);
        assert!(matches!(e(good(&two), &r), IdTokenError::UntrustedAudience(_)));
        assert_eq!(
            e(good(&two), &rules(&trusted)),
            IdTokenError::AuthorizedPartyMismatch
        );
        assert_eq!(
            rules(&trusted).check(&Registered {
                azp: Some("app"),
                ..good(&two)
            }),
            Ok(())
        );
        assert_eq!(
            e(
                Registered {
                    azp: Some("other"),
                    ..good(&app)
                },
                &r
            ),
            IdTokenError::AuthorizedPartyMismatch
        );
        assert_eq!(
            e(
                Registered {
                    exp: Some(NOW - 60),
                    ..good(&app)
                },
                &r
            ),
            IdTokenError::Expired
        );
        assert_eq!(
            r.check(&Registered {
                exp: Some(NOW - 59),
                ..good(&app)
            }),
            Ok(())
        );
        assert_eq!(
            e(
                Registered {
                    exp: None,
                    ..good(&app)
                },
                &r
            ),
            IdTokenError::MissingClaim("exp")
        );
        assert_eq!(
            e(
                Registered {
                    nbf: Some(NOW + 61),
                    ..good(&app)
                },
                &r
            ),
            IdTokenError::NotYetValid
        );
        assert_eq!(
            r.check(&Registered {
                nbf: Some(NOW + 60),
                ..good(&app)
            }),
            Ok(())
        );
        assert_eq!(
            e(
                Registered {
                    iat: Some(NOW + 361),
                    ..good(&app)
                },
                &r
            ),
            IdTokenError::IssuedInFuture
        );
        assert_eq!(
            r.check(&Registered {
                iat: Some(NOW + 360),
                ..good(&app)
            }),
            Ok(())
        );
        assert_eq!(
            e(
                Registered {
                    iat: None,
                    ..good(&app)
                },
                &r
            ),
            IdTokenError::MissingClaim("iat")
        );
        let jti = ClaimRules {
            require_jti: true,
            ..r
        };
        assert_eq!(e(good(&app), &jti), IdTokenError::MissingClaim("jti"));
        assert_eq!(
            jti.check(&Registered {
                jti: Some("j"),
                ..good(&app)
            }),
            Ok(())
        );
    }

    #[test]
    fn any_of_audiences() {
        let apis = ["api-1".to_owned(), "api-2".to_owned()];
        let r = ClaimRules {
            audience: AudienceRule::AnyOf(&apis),
            azp: AzpRule::Ignore,
            ..rules(&[])
        };
        let aud = ["other".to_owned(), "api-2".to_owned()];
        assert_eq!(r.check(&good(&aud)), Ok(()));
        let aud = ["app".to_owned()];
        assert_eq!(r.check(&good(&aud)), Err(IdTokenError::AudienceMismatch));
    }
}
